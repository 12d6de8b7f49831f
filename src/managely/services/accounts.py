"""Accounts: signup, email verification by one-time code, sign-in with lockout, resets, roles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from managely import crypto, db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import (
    LoginEvent,
    OAuthIdentity,
    OtpCode,
    OtpPurpose,
    PasswordResetToken,
    Role,
    ServiceBeneficiary,
    User,
    UserRole,
    UserSession,
    UserStatus,
)
from managely.queue import enqueue
from managely.services import ratelimit
from managely.services.email import queue_email
from managely.services.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationError

OTP_TTL = timedelta(minutes=10)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_COOLDOWN = timedelta(seconds=60)
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
RESET_TTL = timedelta(hours=1)
MIN_PASSWORD = 10

# Named permissions, granted through roles. Superadmin holds every permission there is.
PERMISSIONS = (
    "admin.access",
    "users.view",
    "users.manage",
    "users.impersonate",
    "roles.manage",
    "billing.view",
    "billing.adjust",
    "billing.refund",
    "catalog.manage",
    "servers.view",
    "servers.manage",
    "operations.view",
    "operations.manage",
    "support.view",
    "support.reply",
    "support.manage",
    "reports.view",
    "platform.manage",
    "audit.view",
)
ROLES: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "customer": ("Customer", False, ()),
    "support": (
        "Support staff",
        True,
        (
            "admin.access",
            "users.view",
            "support.view",
            "support.reply",
            "operations.view",
        ),
    ),
    "billing": (
        "Billing staff",
        True,
        (
            "admin.access",
            "users.view",
            "billing.view",
            "billing.adjust",
            "billing.refund",
            "reports.view",
        ),
    ),
    "admin": ("Administrator", True, tuple(p for p in PERMISSIONS if p != "roles.manage")),
    "superadmin": ("Super administrator", True, PERMISSIONS),
}

EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}$")
COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "1234567890",
        "qwertyuiop",
        "password1234",
        "iloveyou123",
        "letmein1234",
        "abcdefghij",
        "0123456789",
        "passw0rd123",
        "administrator",
    }
)


def now() -> datetime:
    return datetime.now(UTC)


async def ensure_roles() -> None:
    """Create the built-in roles, or bring their permissions up to date."""
    for name, (description, is_staff, permissions) in ROLES.items():
        role, created = await Role.get_or_create(
            name=name,
            defaults={
                "description": description,
                "is_staff": is_staff,
                "permissions": list(permissions),
            },
        )
        if not created and (role.permissions != list(permissions) or role.is_staff != is_staff):
            role.permissions, role.is_staff = list(permissions), is_staff
            await role.save()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def validate_email(email: str) -> str:
    email = normalize_email(email)
    if not EMAIL_RE.match(email) or ".." in email:
        raise ValidationError(_l("Enter a valid email address."), field="email")
    return email


def validate_password(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(
            _l("Use at least %(n)s characters for your password.", n=MIN_PASSWORD), field="password"
        )
    lowered = password.lower()
    has_letter = any(c.isalpha() for c in password)
    has_other = any(not c.isalpha() for c in password)
    local_part = email.split("@")[0].lower()
    if (
        lowered in COMMON_PASSWORDS
        or len(set(password)) < 5
        or not (has_letter and has_other)
        or (len(local_part) >= 4 and local_part in lowered)
    ):
        raise ValidationError(
            _l("This password is too easy to guess. Mix letters with digits or symbols."),
            field="password",
        )


def _require(value: str, field: str, label: object, max_len: int) -> str:
    value = value.strip()
    if not value:
        raise ValidationError(_l("%(field)s is required.", field=label), field=field)
    if len(value) > max_len:
        raise ValidationError(_l("%(field)s is too long.", field=label), field=field)
    return value


async def grant_role(user: User, role_name: str) -> None:
    role = await Role.get(name=role_name)
    await UserRole.get_or_create(user=user, role=role)


async def signup(
    *, name: str, email: str, password: str, company: str, locale: str, ip: str
) -> User:
    """Create a customer and their company; the verification code is emailed after commit."""
    await ratelimit.hit(ratelimit.SIGNUP, ip)
    name = _require(name, "name", _l("Name"), 120)
    company = _require(company, "company", _l("Company"), 160)
    email = validate_email(email)
    validate_password(password, email)
    if await User.exists(email=email):
        raise Conflict(
            _l("An account with this email already exists. Sign in instead."), field="email"
        )
    try:
        async with db.atomic():
            user = await User.create(
                email=email, name=name, password_hash=crypto.hash_password(password), locale=locale
            )
            await ServiceBeneficiary.create(owner=user, name=company)
            await grant_role(user, "customer")
            enqueue("accounts.send_otp", user.id, OtpPurpose.VERIFY_EMAIL.value)
    except IntegrityError:
        # Two signups raced for the same email: the unique index decided.
        raise Conflict(
            _l("An account with this email already exists. Sign in instead."), field="email"
        ) from None
    return user


async def create_user(
    *,
    email: str,
    password: str | None,
    name: str,
    role: str = "customer",
    verified: bool = True,
    locale: str | None = None,
) -> User:
    """Create a user directly (CLI, seeds, sign-in providers); the email counts as verified.

    Without a password the account signs in only through its provider until a reset sets one.
    """
    email = validate_email(email)
    if password is not None:
        validate_password(password, email)
    if role not in ROLES:
        raise ValidationError(_l("Unknown role."), field="role")
    async with db.atomic():
        user = await User.create(
            email=email,
            name=name,
            password_hash=crypto.hash_password(password) if password is not None else None,
            email_verified_at=now() if verified else None,
            locale=locale,
        )
        await ServiceBeneficiary.create(owner=user, name=name)
        await grant_role(user, role)
    return user


def _otp_hash(user_id: int, code: str) -> str:
    return crypto.token_hash(f"otp:{user_id}:{code}")


async def send_otp(user_id: int, purpose: str) -> OtpCode | None:
    """Issue a fresh 6-digit code (older ones stop working) and email it."""
    user = await User.get_or_none(id=user_id)
    if user is None:
        return None
    code = crypto.random_digits(6)
    async with db.atomic():
        await OtpCode.filter(user=user, purpose=purpose, used_at=None).update(used_at=now())
        otp = await OtpCode.create(
            user=user,
            purpose=purpose,
            code_hash=_otp_hash(user.id, code),
            expires_at=now() + OTP_TTL,
        )
        await queue_email(
            user.email,
            "otp",
            {"name": user.name, "code": code, "minutes": int(OTP_TTL.total_seconds() // 60)},
            user.locale,
        )
    return otp


async def request_new_otp(user: User, purpose: str = OtpPurpose.VERIFY_EMAIL) -> None:
    """Resend a code, at most once a minute."""
    await ratelimit.hit(ratelimit.OTP, str(user.id))
    last = await OtpCode.filter(user=user, purpose=purpose).order_by("-created_at").first()
    if last is not None and now() - last.created_at < OTP_RESEND_COOLDOWN:
        wait = int((OTP_RESEND_COOLDOWN - (now() - last.created_at)).total_seconds()) + 1
        raise RateLimited(
            _l("Please wait %(s)s seconds before asking for a new code.", s=wait), wait
        )
    enqueue("accounts.send_otp", user.id, str(purpose))


async def verify_otp(user: User, code: str, purpose: str = OtpPurpose.VERIFY_EMAIL) -> None:
    """Check a code; on success the user's email is verified."""
    await ratelimit.hit(ratelimit.OTP, str(user.id))
    code = code.strip()
    if not (len(code) == 6 and code.isdigit()):
        raise ValidationError(_l("Enter the 6-digit code from the email."), field="code")
    otp = (
        await OtpCode.filter(user=user, purpose=purpose, used_at=None)
        .order_by("-created_at")
        .first()
    )
    if otp is None:
        raise ValidationError(_l("This code is no longer valid. Ask for a new one."), field="code")
    if otp.expires_at <= now():
        raise ValidationError(_l("This code has expired. Ask for a new one."), field="code")
    if otp.attempts >= OTP_MAX_ATTEMPTS:
        raise ValidationError(_l("Too many wrong codes. Ask for a new one."), field="code")
    if not crypto.constant_time_equal(otp.code_hash, _otp_hash(user.id, code)):
        otp.attempts += 1
        await otp.save(update_fields=["attempts", "updated_at"])
        left = OTP_MAX_ATTEMPTS - otp.attempts
        if left <= 0:
            raise ValidationError(_l("Too many wrong codes. Ask for a new one."), field="code")
        raise ValidationError(
            _l("That code is not right. %(n)s attempts left.", n=left), field="code"
        )
    async with db.atomic():
        otp.used_at = now()
        await otp.save(update_fields=["used_at", "updated_at"])
        if purpose == OtpPurpose.VERIFY_EMAIL and user.email_verified_at is None:
            user.email_verified_at = now()
            await user.save(update_fields=["email_verified_at", "updated_at"])


async def _record_login(
    user: User | None, email: str, ok: bool, reason: str, ip: str, ua: str
) -> None:
    await LoginEvent.create(
        user=user, email=email[:254], success=ok, reason=reason, ip=ip[:45], user_agent=ua[:255]
    )


async def authenticate(email: str, password: str, *, ip: str, user_agent: str = "") -> User:
    """Check a password. Repeated failures lock the account for a while."""
    email = normalize_email(email)
    await ratelimit.hit(ratelimit.LOGIN, ip)
    user = await User.get_or_none(email=email)
    wrong = ValidationError(_l("Wrong email or password."))
    if user is None or user.status == UserStatus.DELETED:
        crypto.verify_password(None, password)
        await _record_login(None, email, False, "unknown_email", ip, user_agent)
        raise wrong
    if user.status == UserStatus.LOCKED:
        await _record_login(user, email, False, "locked_by_staff", ip, user_agent)
        raise Forbidden(_l("This account is locked. Contact support."))
    if user.locked_until and user.locked_until > now():
        await _record_login(user, email, False, "locked_out", ip, user_agent)
        minutes = int((user.locked_until - now()).total_seconds() // 60) + 1
        raise Forbidden(
            _l(
                "Too many failed sign-ins. Try again in %(m)s minutes or reset your password.",
                m=minutes,
            )
        )
    if not crypto.verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= LOCKOUT_AFTER:
            user.locked_until, user.failed_logins = now() + LOCKOUT_FOR, 0
        await user.save(update_fields=["failed_logins", "locked_until", "updated_at"])
        await _record_login(user, email, False, "wrong_password", ip, user_agent)
        raise wrong
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now()
    if crypto.needs_rehash(user.password_hash or ""):
        user.password_hash = crypto.hash_password(password)
    await user.save()
    await _record_login(user, email, True, "", ip, user_agent)
    return user


async def start_password_reset(email: str, *, ip: str) -> None:
    """Email a reset link if the account exists; say the same thing either way."""
    await ratelimit.hit(ratelimit.PASSWORD_RESET, ip)
    try:
        email = validate_email(email)
    except ValidationError:
        return
    user = await User.get_or_none(email=email, status=UserStatus.ACTIVE)
    if user is None:
        return
    token = crypto.random_token()
    async with db.atomic():
        await PasswordResetToken.create(
            user=user, token_hash=crypto.token_hash(token), expires_at=now() + RESET_TTL
        )
        await queue_email(
            user.email, "password_reset", {"name": user.name, "token": token}, user.locale
        )


async def reset_token_user(token: str) -> PasswordResetToken:
    found = await PasswordResetToken.get_or_none(
        token_hash=crypto.token_hash(token)
    ).prefetch_related("user")
    if found is None or found.used_at is not None or found.expires_at <= now():
        raise ValidationError(_l("This reset link is invalid or has expired. Ask for a new one."))
    return found


async def reset_password(token: str, password: str) -> User:
    reset = await reset_token_user(token)
    user = reset.user
    validate_password(password, user.email)
    async with db.atomic():
        reset.used_at = now()
        await reset.save(update_fields=["used_at", "updated_at"])
        user.password_hash = crypto.hash_password(password)
        user.failed_logins, user.locked_until = 0, None
        await user.save()
        await end_all_sessions(user)  # whoever knew the old password is signed out
    return user


async def start_session(user: User, *, ip: str, user_agent: str) -> UserSession:
    return await UserSession.create(user=user, ip=ip[:45], user_agent=user_agent[:255])


async def session_user(code: str | None) -> tuple[UserSession, User] | None:
    """The live session with this code and its user, or None when revoked or unknown."""
    if not code:
        return None
    found = await UserSession.get_or_none(code=code, revoked_at=None).prefetch_related("user")
    if found is None or found.user.status != UserStatus.ACTIVE:
        return None
    if now() - found.last_seen_at > timedelta(minutes=5):
        await found.save(update_fields=["last_seen_at"])
    return found, found.user


async def end_session(code: str) -> None:
    await UserSession.filter(code=code, revoked_at=None).update(revoked_at=now())


async def end_all_sessions(user: User) -> None:
    await UserSession.filter(user=user, revoked_at=None).update(revoked_at=now())


async def get_user(user_id: int | str | None) -> User | None:
    if user_id is None:
        return None
    try:
        return await User.get_or_none(id=int(user_id), status__not=UserStatus.DELETED)
    except ValueError:
        return None


async def get_user_by_email(email: str) -> User | None:
    return await User.get_or_none(email=normalize_email(email))


# Every request of a signed-in user holds its permissions (an open SSE stream for as long as it
# is open): users with the same roles share one set instead of each holding a fresh copy.
_permission_sets: dict[frozenset[str], frozenset[str]] = {}


async def permissions_of(user: User) -> frozenset[str]:
    roles = await Role.filter(user_roles__user=user).values_list("permissions", flat=True)
    found = frozenset(p for perms in roles for p in perms)
    return _permission_sets.setdefault(found, found)


async def role_names(user: User) -> list[str]:
    return sorted(await Role.filter(user_roles__user=user).values_list("name", flat=True))


async def is_staff(user: User) -> bool:
    return await Role.exists(user_roles__user=user, is_staff=True)


async def beneficiaries_of(user: User) -> list[ServiceBeneficiary]:
    return await ServiceBeneficiary.filter(owner=user).order_by("name")


async def get_beneficiary_for_user(user: User, code: str) -> ServiceBeneficiary:
    """The access helper for companies: another customer's company is simply not found."""
    found = await ServiceBeneficiary.get_or_none(code=code, owner=user)
    if found is None:
        raise NotFound(_l("Not found."))
    return found


async def update_beneficiary(
    user: User, code: str, *, name: str, country: str, tax_id: str, address: str
) -> ServiceBeneficiary:
    company = await get_beneficiary_for_user(user, code)
    company.name = _require(name, "name", _l("Company"), 160)
    country = country.strip().upper()
    if country and not (len(country) == 2 and country.isalpha() and country.isascii()):
        raise ValidationError(_l("Use a two-letter country code, like SA or EG."), field="country")
    company.country = country or None
    company.tax_id = tax_id.strip()[:64] or None
    company.address = address.strip()[:2000]
    await company.save()
    return company


async def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    await user.save(update_fields=["locale", "updated_at"])


async def get_user_by_code(code: str) -> User | None:
    return await User.get_or_none(code=code, status__not=UserStatus.DELETED)


def check_password(user: User, password: str) -> bool:
    return crypto.verify_password(user.password_hash, password)


async def sign_in_with_identity(
    provider: str,
    subject: str,
    *,
    email: str | None,
    email_verified: bool,
    name: str,
    locale: str,
    ip: str,
    user_agent: str = "",
) -> tuple[User, bool]:
    """The account a sign-in provider's identity opens, and whether it was just created.

    A linked identity opens its account. Otherwise the account with the same email is linked,
    but only when the provider says it verified that email; with no such account a customer is
    created (email verified, no password). ``provider`` is the configured provider's name.
    """
    identity = await OAuthIdentity.get_or_none(provider=provider, subject=subject).prefetch_related(
        "user"
    )
    if identity is not None:
        user, created = identity.user, False
        await _refuse_inactive(user, ip, user_agent)
    else:
        user, created = await _link_or_create(
            provider, subject, email, email_verified, name, locale, ip, user_agent
        )
    user.last_login_at = now()
    await user.save(update_fields=["last_login_at", "updated_at"])
    await _record_login(user, user.email, True, f"oauth:{provider}"[:32], ip, user_agent)
    return user, created


async def _refuse_inactive(user: User, ip: str, user_agent: str) -> None:
    if user.status != UserStatus.ACTIVE:
        await _record_login(user, user.email, False, "locked_by_staff", ip, user_agent)
        raise Forbidden(_l("This account is locked. Contact support."))


async def _link_or_create(
    provider: str,
    subject: str,
    email: str | None,
    email_verified: bool,
    name: str,
    locale: str,
    ip: str,
    user_agent: str,
) -> tuple[User, bool]:
    if not email:
        raise ValidationError(
            _l("The provider did not share your email address. Sign up with a password instead.")
        )
    email = validate_email(email)
    user = await User.get_or_none(email=email)
    if not email_verified:
        # Linking on an address the provider never checked would hand the account to whoever
        # typed that address into the provider.
        if user is not None:
            await _record_login(user, email, False, "oauth_unverified_email", ip, user_agent)
            raise Forbidden(
                _l(
                    "An account with this email already exists, but the provider has not "
                    "verified that the address is yours. Sign in with your password instead."
                )
            )
        raise Forbidden(
            _l(
                "The provider has not verified your email address. Verify it there first, "
                "or sign up with a password."
            )
        )
    if user is None:
        await ratelimit.hit(ratelimit.SIGNUP, ip)
    else:
        await _refuse_inactive(user, ip, user_agent)
    try:
        async with db.atomic():
            if user is None:
                display_name = name.strip()[:120] or email.split("@")[0]
                user = await create_user(
                    email=email, password=None, name=display_name, locale=locale
                )
                created = True
            else:
                created = False
                if user.email_verified_at is None:
                    # Whoever registered this address never proved it is theirs: the password
                    # may be an attacker's, set before the owner arrived. The owner keeps the
                    # account; that password stops working.
                    user.email_verified_at, user.password_hash = now(), None
                    await user.save(
                        update_fields=["email_verified_at", "password_hash", "updated_at"]
                    )
            await OAuthIdentity.create(user=user, provider=provider, subject=subject, email=email)
    except IntegrityError:
        # Two callbacks raced for the same identity or email: the unique indexes decided.
        raise Conflict(_l("You are already being signed in. Please try again.")) from None
    return user, created
