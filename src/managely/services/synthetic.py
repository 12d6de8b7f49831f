"""The synthetic trial check: the platform's own uptime proof.

Every few minutes (``MANAGELY_SYNTHETIC_EVERY_MINUTES``) the clock starts a trial for a hidden
test account through the same ``create_system`` path customers use (a warm standby when the pool
has one), waits for it, logs into the new ERP over Tryton's JSON-RPC with the site's admin
credentials, and deletes the site. Each run is a ``SyntheticCheck``: how long a customer would
have waited for a working ERP, and where it stopped when it failed. A failure, or a run slower
than its budget (``MANAGELY_SYNTHETIC_BUDGET_S``), alerts staff; the next good run resolves it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from managely import crypto, i18n
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.i18n import stored
from managely.models.accounts import User
from managely.models.catalog import Package
from managely.models.launches import Launch, LaunchStatus
from managely.models.operations import OperationStatus, SaaSOperation
from managely.models.platform import SyntheticCheck
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import accounts, alerts, launches, site_tasks, usage
from managely.services.errors import ServiceError
from managely.settings import get_settings

log = logging.getLogger(__name__)
ACCOUNT_LOCAL_PART = "synthetic-check"
PACKAGE_SETTING = "synthetic_package"  # a platform setting: the package slug to try
POLL_S = 1.0
LOGIN_TIMEOUT_S = 60
FINAL = (OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.CANCELLED)
ALERT_FAILED, ALERT_SLOW = "synthetic:failed", "synthetic:slow"

Login = Callable[[str, str, str], Awaitable[None]]


class CheckFailed(Exception):
    """The check stopped at ``stage``."""

    def __init__(self, stage: str, error: str) -> None:
        super().__init__(error)
        self.stage = stage


def account_email() -> str:
    return f"{ACCOUNT_LOCAL_PART}@{get_settings().base_domain}"


async def test_account() -> User:
    """The hidden customer the checks launch for, created on first use.

    Its password is random and never kept: nobody signs in as it; it only owns the check's
    trial systems, which live a few minutes.
    """
    user = await accounts.get_user_by_email(account_email())
    if user is not None:
        return user
    return await accounts.create_user(
        email=account_email(),
        password=crypto.random_token(24),
        name="Synthetic check",
        role="customer",
    )


async def tryton_login(url: str, login: str, password: str) -> None:
    """Log into a Tryton site over JSON-RPC (``common.db.login``); raises when refused."""
    payload = {"id": 1, "method": "common.db.login", "params": [login, {"password": password}]}
    async with httpx.AsyncClient(timeout=LOGIN_TIMEOUT_S) as client:
        response = await client.post(url.rstrip("/") + "/rpc/", json=payload)
    if response.status_code != 200:
        raise CheckFailed("login", f"the ERP refused the login (HTTP {response.status_code})")
    answer = response.json()
    result = answer.get("result") if isinstance(answer, dict) else None
    if not (isinstance(result, list) and result and isinstance(result[0], int) and result[0] > 0):
        raise CheckFailed("login", f"the ERP answered the login with {str(answer)[:200]}")


async def _package_slug() -> str:
    from managely.services.platform import get_setting

    slug = await get_setting(PACKAGE_SETTING)
    package = await (
        Package.get_or_none(slug=slug, is_active=True)
        if slug
        else Package.filter(is_active=True).order_by("id").first()
    )
    if package is None:
        raise CheckFailed("launch", "no active package to launch")
    return package.slug


async def _wait(operation: SaaSOperation, stage: str, deadline: float) -> None:
    while True:
        await operation.refresh_from_db(fields=["status", "error_detail"])
        if operation.status in FINAL:
            break
        if time.monotonic() > deadline:
            raise CheckFailed(stage, f"operation {operation.code} still {operation.status.value}")
        await asyncio.sleep(POLL_S)
    if operation.status != OperationStatus.SUCCEEDED:
        detail = operation.error_detail or operation.status.value
        raise CheckFailed(stage, f"operation {operation.code} {operation.status.value}: {detail}")


async def _delete(launch: Launch, deadline: float) -> None:
    await launch.refresh_from_db()
    if launch.status == LaunchStatus.DELETED:
        return
    try:
        operation = await site_tasks.delete_system(launch)
    except ServiceError as exc:
        raise CheckFailed("delete", str(exc)) from exc
    await _wait(operation, "delete", deadline)
    if launch.subscription_id is not None:
        await Subscription.filter(id=launch.subscription_id).update(
            status=SubscriptionStatus.CANCELLED, auto_renew=False
        )


async def _leftovers(user: User, deadline: float) -> None:
    """Sites an earlier check could not delete (it timed out): delete them now."""
    for launch in await Launch.filter(
        user=user, status__in=[LaunchStatus.ACTIVE, LaunchStatus.FAILED]
    ):
        try:
            await _delete(launch, deadline)
        except CheckFailed as exc:
            log.warning("synthetic: leftover %s not deleted: %s", launch.code, exc)


async def run_check(
    *, budget_s: int | None = None, login: Login | None = None, hard_limit_s: int | None = None
) -> SyntheticCheck:
    """One check, end to end; records and returns it, alerting staff when it is bad."""
    budget_s = budget_s or get_settings().synthetic_budget_s
    hard_limit_s = hard_limit_s or max(budget_s * 3, 600)
    login = login or tryton_login
    started_at, clock_start = datetime.now(UTC), time.monotonic()
    deadline = clock_start + hard_limit_s
    check = await SyntheticCheck.create(started_at=started_at, stage="launch")
    launch: Launch | None = None
    try:
        user = await test_account()
        await _leftovers(user, deadline)
        subdomain = f"synthetic-{secrets.token_hex(5)}"
        try:
            launch, operation = await launches.create_system(
                user, package_slug=await _package_slug(), subdomain=subdomain
            )
        except ServiceError as exc:
            raise CheckFailed("launch", str(exc)) from exc
        check.launch_code = launch.code
        check.stage = "provision"
        await check.save(update_fields=["launch_code", "stage", "updated_at"])
        await _wait(operation, "provision", deadline)
        await launch.refresh_from_db()
        check.stage = "login"
        username, password = await launches.credentials_of(launch)
        try:
            await login(launch.url, username, password)
        except CheckFailed:
            raise
        except (httpx.HTTPError, ValueError) as exc:
            raise CheckFailed("login", f"{type(exc).__name__}: {exc}") from exc
        check.duration_ms = int((time.monotonic() - clock_start) * 1000)
        check.stage = "delete"
        await _delete(launch, deadline)
        check.ok, check.stage = True, "done"
    except CheckFailed as exc:
        check.stage, check.error = exc.stage, str(exc)[:2000]
    except Exception as exc:  # noqa: BLE001 - whatever broke, the run is recorded and told
        log.exception("synthetic check failed unexpectedly")
        check.error = f"{type(exc).__name__}: {exc}"[:2000]
    if not check.ok and launch is not None and check.stage not in ("provision", "delete"):
        try:
            await _delete(launch, deadline)  # a site whose login failed is still removed
        except Exception as exc:  # noqa: BLE001
            log.warning("synthetic: could not delete %s: %s", launch.code, exc)
    check.finished_at = datetime.now(UTC)
    if check.duration_ms is None:
        check.duration_ms = int((time.monotonic() - clock_start) * 1000)
    await check.save()
    await _tell(check, budget_s)
    return check


async def _tell(check: SyntheticCheck, budget_s: int) -> None:
    seconds = (check.duration_ms or 0) / 1000
    if not check.ok:
        await alerts.raise_alert(
            "synthetic_failed",
            ALERT_FAILED,
            stored("The synthetic trial check failed at %(stage)s", stage=check.stage),
            stored(
                "Started %(started)s UTC, stopped after %(seconds)s s at %(stage)s "
                "(site %(site)s): %(error)s",
                started=f"{check.started_at:%Y-%m-%d %H:%M:%S}",
                seconds=f"{seconds:.1f}",
                stage=check.stage,
                site=check.launch_code or "-",
                error=check.error,
            ),
        )
        return
    await alerts.resolve(ALERT_FAILED)
    if seconds > budget_s:
        await alerts.raise_alert(
            "synthetic_slow",
            ALERT_SLOW,
            stored(
                "The synthetic trial check took %(seconds)s s (budget %(budget)s s)",
                seconds=f"{seconds:.0f}",
                budget=budget_s,
            ),
            stored(
                "Started %(started)s UTC, site %(site)s.",
                started=f"{check.started_at:%Y-%m-%d %H:%M:%S}",
                site=check.launch_code,
            ),
        )
    else:
        await alerts.resolve(ALERT_SLOW)


# --- the staff chart ----------------------------------------------------------------------------

CHART_POINTS = 48
CHART_SPAN = timedelta(hours=24)
SECONDS = usage.Metric(
    "synthetic",
    "duration_ms",
    _l("Time to a working trial ERP"),
    lambda value: _("%(seconds)s s", seconds=i18n.format_number(round(value, 1))),
    peak=True,
)


@dataclass(frozen=True)
class History:
    checks: list[SyntheticCheck]
    chart: object  # Markup
    budget_s: int
    ok: int
    failed: int


async def history(now: datetime | None = None) -> History:
    """The last day of checks for staff: a chart of the time to a working ERP, and counts."""
    end = now or datetime.now(UTC)
    start = end - CHART_SPAN
    checks = await SyntheticCheck.filter(started_at__gte=start).order_by("started_at")
    samples = [(c.started_at, c.duration_ms / 1000) for c in checks if c.ok and c.duration_ms]
    values = usage.bucket(samples, start, end, CHART_POINTS, peak=True)
    chart = usage.render_chart(usage.Series(SECONDS, "24h", start, end, values))
    ok = sum(1 for c in checks if c.ok)
    return History(
        list(reversed(checks))[:20], chart, get_settings().synthetic_budget_s, ok, len(checks) - ok
    )
