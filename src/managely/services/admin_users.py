"""Staff actions on one user: the detail page, lock, two-factor reset, roles, sessions, and
acting as a customer (impersonation). Every change is audited with before and after."""

from __future__ import annotations

from dataclasses import dataclass

from managely import db
from managely.i18n import lazy_gettext as _l
from managely.models.accounts import (
    LoginEvent,
    RecoveryCode,
    Role,
    TotpDevice,
    User,
    UserRole,
    UserSession,
    UserStatus,
)
from managely.models.billing import Wallet
from managely.models.launches import Launch
from managely.models.subscriptions import Subscription
from managely.models.support import SupportTicket
from managely.services import accounts, platform
from managely.services.errors import Forbidden, NotFound, ValidationError

DETAIL_LIMIT = 20
SUPERADMIN = "superadmin"


@dataclass
class UserDetail:
    user: User
    roles: list[str]
    is_staff: bool
    two_factor: bool
    systems: list[Launch]
    subscriptions: list[Subscription]
    wallets: list[Wallet]
    tickets: list[SupportTicket]
    sign_ins: list[LoginEvent]
    sessions: list[UserSession]


async def get_user_for_staff(code: str) -> User:
    """The access helper for staff screens on a user: an unknown code is not found."""
    user = await User.get_or_none(code=code[:16])
    if user is None:
        raise NotFound(_l("We could not find that user."))
    return user


async def user_detail(code: str) -> UserDetail:
    """Everything the detail page shows, each list bounded: ten queries for any user."""
    user = await get_user_for_staff(code)
    newest = ("-id",)
    roles = await accounts.role_names(user)
    return UserDetail(
        user=user,
        roles=roles,
        is_staff=any(accounts.ROLES.get(r, ("", False))[1] for r in roles),
        two_factor=await TotpDevice.exists(user=user, confirmed_at__not_isnull=True),
        systems=await Launch.filter(user=user)
        .order_by(*newest)
        .limit(DETAIL_LIMIT)
        .prefetch_related("package"),
        subscriptions=await Subscription.filter(user=user)
        .order_by(*newest)
        .limit(DETAIL_LIMIT)
        .prefetch_related("package"),
        wallets=await Wallet.filter(user=user).order_by("currency"),
        tickets=await SupportTicket.filter(user=user).order_by(*newest).limit(DETAIL_LIMIT),
        sign_ins=await LoginEvent.filter(user=user).order_by(*newest).limit(DETAIL_LIMIT),
        sessions=await UserSession.filter(user=user, revoked_at=None)
        .order_by("-last_seen_at")
        .limit(DETAIL_LIMIT),
    )


def _lock_state(user: User) -> dict:
    locked_until = user.locked_until.isoformat() if user.locked_until else None
    return {"status": str(user.status), "locked_until": locked_until}


async def set_locked(
    actor: User, code: str, locked: bool, *, reason: str = "", ip: str = ""
) -> User:
    """Lock an account (it is signed out everywhere) or unlock it (the failed-sign-in lockout
    is cleared too). Staff cannot lock themselves out."""
    user = await get_user_for_staff(code)
    if user.id == actor.id:
        raise Forbidden(_l("You cannot lock your own account."))
    if user.status == UserStatus.DELETED:
        raise ValidationError(_l("This account was deleted."))
    async with db.atomic():
        user = await User.select_for_update().get(id=user.id)
        before = _lock_state(user)
        if locked:
            user.status = UserStatus.LOCKED
            await accounts.end_all_sessions(user)
        else:
            user.status, user.locked_until, user.failed_logins = UserStatus.ACTIVE, None, 0
        await user.save(update_fields=["status", "locked_until", "failed_logins", "updated_at"])
        action = "users.lock" if locked else "users.unlock"
        await platform.audit(
            actor, action, user, before=before, after=_lock_state(user), reason=reason, ip=ip
        )
    return user


async def reset_two_factor(actor: User, code: str, *, reason: str = "", ip: str = "") -> User:
    """Remove the user's authenticator and recovery codes (they lost their phone): the next
    sign-in asks for the password only."""
    user = await get_user_for_staff(code)
    async with db.atomic():
        devices = await TotpDevice.filter(user=user).delete()
        codes = await RecoveryCode.filter(user=user).delete()
        if not devices and not codes:
            raise ValidationError(_l("Two-factor sign-in is not on for this user."))
        await platform.audit(
            actor,
            "users.reset_2fa",
            user,
            before={"totp_devices": devices, "recovery_codes": codes},
            after={"totp_devices": 0, "recovery_codes": 0},
            reason=reason,
            ip=ip,
        )
    return user


def _check_role_change(
    actor: User, actor_roles: list[str], user: User, old: set, new: set, known: set
) -> None:
    if new - known:
        raise ValidationError(_l("Unknown role."), field="roles")
    if not new:
        raise ValidationError(_l("Choose at least one role."), field="roles")
    touches_superadmin = SUPERADMIN in (old ^ new)
    if touches_superadmin and SUPERADMIN not in actor_roles:
        raise Forbidden(_l("Only a super administrator grants or removes that role."))
    if user.id == actor.id and SUPERADMIN in old and SUPERADMIN not in new:
        raise Forbidden(_l("You cannot remove your own super administrator role."))


async def set_roles(
    actor: User, code: str, roles: list[str], *, reason: str = "", ip: str = ""
) -> list[str]:
    """Replace a user's roles (``roles.manage``). Only a superadmin grants or removes
    superadmin, and nobody demotes themselves from it."""
    user = await get_user_for_staff(code)
    new = {r.strip() for r in roles if r.strip()}
    async with db.atomic():
        old = set(await accounts.role_names(user))
        known = set(await Role.all().values_list("name", flat=True))
        _check_role_change(actor, await accounts.role_names(actor), user, old, new, known)
        if old == new:
            return sorted(new)
        await UserRole.filter(user=user, role__name__in=list(old - new)).delete()
        for role in await Role.filter(name__in=list(new - old)):
            await UserRole.create(user=user, role=role)
        await platform.audit(
            actor,
            "users.roles",
            user,
            before={"roles": sorted(old)},
            after={"roles": sorted(new)},
            reason=reason,
            ip=ip,
        )
    return sorted(new)


async def revoke_session(actor: User, code: str, session_code: str, *, ip: str = "") -> UserSession:
    """End one of the user's signed-in browsers; it is signed out on its next request."""
    user = await get_user_for_staff(code)
    found = await UserSession.get_or_none(code=session_code[:16], user=user, revoked_at=None)
    if found is None:
        raise NotFound(_l("Not found."))
    async with db.atomic():
        await accounts.end_session(found.code)
        await platform.audit(
            actor,
            "users.revoke_session",
            user,
            before={"session": found.code, "ip": found.ip, "revoked": False},
            after={"session": found.code, "revoked": True},
            ip=ip,
        )
    return found


# -- impersonation ----------------------------------------------------------------------------


async def start_impersonation(
    actor: User, code: str, *, ip: str = "", user_agent: str = ""
) -> UserSession:
    """A new session of the customer's, marked with the staff member's id. It carries the
    customer's permissions only; the staff member's own session stays as it was."""
    user = await get_user_for_staff(code)
    if user.id == actor.id or await accounts.is_staff(user):
        raise Forbidden(_l("Only customers can be impersonated, not staff."))
    if user.status != UserStatus.ACTIVE:
        raise ValidationError(_l("This account is locked or deleted: it cannot be opened."))
    async with db.atomic():
        session = await UserSession.create(
            user=user, ip=ip[:45], user_agent=user_agent[:255], impersonator_user_id=actor.id
        )
        await platform.audit(
            actor,
            "users.impersonate_start",
            user,
            after={"session": session.code},
            ip=ip,
        )
    return session


async def impersonator_of(session: UserSession) -> User | None:
    """The staff member acting in this session, or None for an ordinary one."""
    if session.impersonator_user_id is None:
        return None
    return await User.get_or_none(id=session.impersonator_user_id, status=UserStatus.ACTIVE)


async def end_impersonation(
    staff: User, customer: User, session_code: str, staff_session: str, *, ip: str = ""
) -> str | None:
    """End the impersonation session; the staff member's own session code to go back to,
    or None when it has ended meanwhile (they sign in again)."""
    async with db.atomic():
        await accounts.end_session(session_code)
        await platform.audit(
            customer,
            "users.impersonate_end",
            customer,
            before={"session": session_code},
            ip=ip,
            impersonator=staff,
        )
    own = await UserSession.get_or_none(code=staff_session[:16], user=staff, revoked_at=None)
    return own.code if own is not None else None
