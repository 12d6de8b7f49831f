"""A customer's own account security: profile, password, two-factor sign-in, sessions, history.

Two-factor sign-in is TOTP (RFC 6238, 30-second steps, ±1 step of clock drift) with ten
one-time recovery codes. The secret is stored encrypted; recovery codes only as keyed hashes.
A code is good once: the device remembers the last step it accepted.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import timedelta

import pyotp
import segno
from markupsafe import Markup

from managely import crypto, db, i18n
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import LoginEvent, RecoveryCode, TotpDevice, User, UserSession
from managely.services import accounts, ratelimit
from managely.services.email import queue_email
from managely.services.errors import Conflict, NotFound, RateLimited, ValidationError

ISSUER = "Managely"
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
HISTORY_LIMIT = 50
# Wrong codes at sign-in, per account, like the password lockout but counted on their own: a
# right password resets that counter and would otherwise buy an attacker fresh guesses.
TWO_FACTOR_FAILURES = 5
TWO_FACTOR_LOCKOUT = timedelta(minutes=15)
# Codes typed in the account pages (turning on or off, new recovery codes), right or wrong.
TWO_FACTOR_SETTINGS = ratelimit.Limit("two_factor_settings", 10, 900)
SIGN_IN_METHODS = ("totp", "recovery_code")
PASSWORD_CHANGE = ratelimit.Limit("password_change", 10, 3600)

WRONG_CODE = _l("That code is not right. Check your authenticator app and try again.")


# -- profile and password ---------------------------------------------------------------------


async def update_profile(user: User, *, name: str, locale: str) -> User:
    """Change the display name and the language pages and emails use."""
    name = name.strip()
    if not name:
        raise ValidationError(_l("%(field)s is required.", field=_l("Name")), field="name")
    if len(name) > 120:
        raise ValidationError(_l("%(field)s is too long.", field=_l("Name")), field="name")
    if locale not in i18n.LOCALES:
        raise ValidationError(_l("Choose one of the offered languages."), field="locale")
    async with db.atomic():
        user.name = name
        await user.save(update_fields=["name", "updated_at"])
        await accounts.set_locale(user, locale)
    return user


async def change_password(user: User, *, current: str, new: str, keep_session: str | None) -> None:
    """Set a new password; every other signed-in browser is signed out, and the owner told."""
    await ratelimit.hit(PASSWORD_CHANGE, str(user.id))
    if not accounts.check_password(user, current):
        raise ValidationError(_l("That is not your current password."), field="current_password")
    try:
        accounts.validate_password(new, user.email)
    except ValidationError as error:
        error.field = "new_password"
        raise
    async with db.atomic():
        user.password_hash = crypto.hash_password(new)
        await user.save(update_fields=["password_hash", "updated_at"])
        await revoke_other_sessions(user, keep_session)
        await queue_email(user.email, "password_changed", {"name": user.name}, user.locale)


# -- two-factor sign-in -----------------------------------------------------------------------


async def two_factor_enabled(user: User) -> bool:
    return await TotpDevice.exists(user=user, confirmed_at__not_isnull=True)


async def start_enrolment(user: User) -> tuple[str, str]:
    """The secret being enrolled and its ``otpauth://`` URI; reloading keeps the same secret."""
    device = await TotpDevice.get_or_none(user=user)
    if device is not None and device.confirmed_at is not None:
        raise Conflict(_l("Two-factor sign-in is already on."))
    if device is None:
        device = await TotpDevice.create(
            user=user, secret_encrypted=crypto.encrypt(pyotp.random_base32())
        )
    secret = crypto.decrypt(device.secret_encrypted)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return secret, uri


def qr_svg(uri: str) -> Markup:
    """The URI as an inline SVG QR code: drawn here, so the page needs no script."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(scale=4, light="#fff", title=str(_l("QR code")))
    return Markup(svg)  # noqa: S704 - segno writes the SVG and escapes the title itself


async def confirm_enrolment(user: User, code: str) -> list[str]:
    """Turn two-factor sign-in on with a first good code; returns the recovery codes to show."""
    await ratelimit.hit(TWO_FACTOR_SETTINGS, str(user.id))
    device = await TotpDevice.get_or_none(user=user)
    if device is None:
        raise ValidationError(_l("Start again: scan the new QR code."), field="code")
    if device.confirmed_at is not None:
        raise Conflict(_l("Two-factor sign-in is already on."))
    await _use_totp(device, code)
    async with db.atomic():
        device.confirmed_at = accounts.now()
        await device.save(update_fields=["confirmed_at", "updated_at"])
        return await _new_recovery_codes(user)


async def verify_second_factor(user: User, code: str, *, ip: str, user_agent: str) -> str:
    """Check the code typed after the password: a TOTP code or an unused recovery code.

    Returns which one it was. Wrong codes are recorded; after too many, every code is refused
    for a while.
    """
    await _refuse_when_locked_out(user)
    try:
        method = await _check_either(user, code)
    except ValidationError:
        await _record(user, False, "wrong_2fa", ip, user_agent)
        raise
    await _record(user, True, method, ip, user_agent)
    return method


async def disable_two_factor(user: User, *, password: str, code: str) -> None:
    """Turn two-factor sign-in off: the password and a current code (or recovery code) needed."""
    await ratelimit.hit(TWO_FACTOR_SETTINGS, str(user.id))
    if not await two_factor_enabled(user):
        raise Conflict(_l("Two-factor sign-in is already off."))
    if not accounts.check_password(user, password):
        raise ValidationError(_l("That is not your current password."), field="password")
    await _check_either(user, code)
    async with db.atomic():
        await TotpDevice.filter(user=user).delete()
        await RecoveryCode.filter(user=user).delete()


async def regenerate_recovery_codes(user: User, *, password: str) -> list[str]:
    """Replace every recovery code (the old ones stop working); the password is needed."""
    await ratelimit.hit(TWO_FACTOR_SETTINGS, str(user.id))
    if not await two_factor_enabled(user):
        raise Conflict(_l("Turn on two-factor sign-in first."))
    if not accounts.check_password(user, password):
        raise ValidationError(_l("That is not your current password."), field="password")
    async with db.atomic():
        return await _new_recovery_codes(user)


async def recovery_codes_left(user: User) -> int:
    return await RecoveryCode.filter(user=user, used_at=None).count()


async def _refuse_when_locked_out(user: User) -> None:
    """Refuse while the last sign-in failures (since the last good code) fill the window."""
    since = accounts.now() - TWO_FACTOR_LOCKOUT
    last_good = (
        await LoginEvent.filter(
            user=user, success=True, reason__in=SIGN_IN_METHODS, created_at__gte=since
        )
        .order_by("-created_at")
        .first()
    )
    failures = await LoginEvent.filter(
        user=user,
        success=False,
        reason="wrong_2fa",
        created_at__gte=last_good.created_at if last_good else since,
    ).values_list("created_at", flat=True)
    if len(failures) < TWO_FACTOR_FAILURES:
        return
    until = sorted(failures)[-TWO_FACTOR_FAILURES] + TWO_FACTOR_LOCKOUT
    wait = max(int((until - accounts.now()).total_seconds()), 1)
    raise RateLimited(
        _l("Too many wrong codes. Try again in %(m)s minutes.", m=wait // 60 + 1), wait
    )


def _current_step() -> int:
    return int(time.time()) // STEP_SECONDS


async def _use_totp(device: TotpDevice, code: str) -> None:
    """Accept ``code`` once: its time step must be newer than the last one accepted."""
    totp = pyotp.TOTP(crypto.decrypt(device.secret_encrypted), interval=STEP_SECONDS)
    now_step = _current_step()
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if not crypto.constant_time_equal(totp.at(step * STEP_SECONDS), code):
            continue
        # Conditional update: two requests racing with one code cannot both win.
        changed = await TotpDevice.filter(id=device.id, last_used_step__lt=step).update(
            last_used_step=step
        )
        if changed:
            device.last_used_step = step
            return
        raise ValidationError(
            _l("This code was already used. Wait for the next one in your app."), field="code"
        )
    raise ValidationError(WRONG_CODE, field="code")


async def _check_either(user: User, code: str) -> str:
    code = re.sub(r"[\s-]", "", code).lower()
    if not code:
        raise ValidationError(
            _l("Enter the 6-digit code from your app, or a recovery code."), field="code"
        )
    if code.isdigit() and len(code) == 6:
        device = await TotpDevice.get_or_none(user=user, confirmed_at__not_isnull=True)
        if device is None:
            raise ValidationError(WRONG_CODE, field="code")
        await _use_totp(device, code)
        return "totp"
    used = await RecoveryCode.filter(
        user=user, code_hash=_recovery_hash(user, code), used_at=None
    ).update(used_at=accounts.now())
    if not used:
        raise ValidationError(
            _l("That code is not right, or that recovery code was already used."), field="code"
        )
    return "recovery_code"


def _recovery_hash(user: User, code: str) -> str:
    return crypto.token_hash(f"recovery:{user.id}:{code}")


async def _new_recovery_codes(user: User) -> list[str]:
    await RecoveryCode.filter(user=user).delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        await RecoveryCode.create(user=user, code_hash=_recovery_hash(user, raw))
    return codes


async def _record(user: User, ok: bool, reason: str, ip: str, user_agent: str) -> None:
    await LoginEvent.create(
        user=user,
        email=user.email,
        success=ok,
        reason=reason,
        ip=ip[:45],
        user_agent=user_agent[:255],
    )


# -- sessions and history ---------------------------------------------------------------------


async def sessions_of(user: User) -> list[UserSession]:
    return await UserSession.filter(user=user, revoked_at=None).order_by("-last_seen_at")


async def get_session_for_user(user: User, code: str) -> UserSession:
    """The access helper for sessions: another customer's (or an ended) one is not found."""
    found = await UserSession.get_or_none(code=code, user=user, revoked_at=None)
    if found is None:
        raise NotFound(_l("Not found."))
    return found


async def revoke_session(user: User, code: str) -> UserSession:
    """End one signed-in browser; it is signed out on its next request."""
    found = await get_session_for_user(user, code)
    await accounts.end_session(found.code)
    return found


async def revoke_other_sessions(user: User, keep: str | None) -> int:
    """End every signed-in browser of ``user`` except the one with code ``keep``."""
    query = UserSession.filter(user=user, revoked_at=None)
    if keep:
        query = query.exclude(code=keep)
    return await query.update(revoked_at=accounts.now())


async def login_history(user: User, limit: int = HISTORY_LIMIT) -> list[LoginEvent]:
    return await LoginEvent.filter(user=user).order_by("-created_at", "-id").limit(limit)


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
    ("curl/", "curl"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe_device(user_agent: str) -> str:
    """A short "Browser on System" from a User-Agent header, or the empty string."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), "")
    if browser and system:
        return str(_l("%(browser)s on %(system)s", browser=browser, system=system))
    return browser or system
