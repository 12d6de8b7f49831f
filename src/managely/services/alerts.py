"""Alerts to staff: failed backups, unhealthy servers, stuck operations, failed renewal runs…

``raise_alert`` stores an ``Alert`` and tells staff: an email through the outbox (which retries
on its own) to every active staff user holding ``ALERT_PERMISSION`` — or to the addresses in the
``alert_emails`` platform setting when staff set one — and, when a webhook URL is configured, a
JSON POST sent by the ``alerts.webhook`` actor (retried by the queue). While an alert for a key
is open, the same condition raises nothing more; ``resolve`` closes it.

An alert never blocks its caller: every failure here is logged, never raised.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx

from managely import db
from managely.i18n import Stored, stored, use_locale
from managely.models.accounts import Role, User, UserStatus
from managely.models.operations import OperationKind, OperationStatus, SaaSOperation
from managely.models.platform import Alert
from managely.queue import enqueue
from managely.services.email import queue_email
from managely.settings import get_settings

log = logging.getLogger(__name__)
ALERT_PERMISSION = "operations.manage"
EMAILS_SETTING = "alert_emails"  # a platform setting: a list (or comma-separated string)
WEBHOOK_SETTING = "alert_webhook_url"  # a platform setting; MANAGELY_ALERT_WEBHOOK_URL wins
WEBHOOK_TIMEOUT_S = 10


async def raise_alert(
    kind: str, key: str, subject: str | Stored, body: str | Stored
) -> Alert | None:
    """Open an alert for ``key`` and notify staff; None if one is open already (or on error).

    ``subject`` and ``body`` given as ``stored(…)`` reach each recipient in their language."""
    texts = {"subject": subject, "body": body}
    message = {part: text.to_json() for part, text in texts.items() if isinstance(text, Stored)}
    try:
        async with db.atomic():
            if await Alert.exists(key=key, resolved_at=None):
                return None
            with use_locale(None):  # the row's own columns: English, for webhooks and logs
                english = str(subject)[:255], str(body)
            alert = await Alert.create(
                kind=kind[:32], key=key[:128], subject=english[0], body=english[1], message=message
            )
            for email, locale in await recipients():
                with use_locale(locale):
                    mine = {"subject": alert.subject_text[:255], "body": alert.body_text}
                await queue_email(email, "alert", {"kind": alert.kind, **mine}, locale)
            if await webhook_url():
                enqueue("alerts.webhook", alert.id)
        log.warning("alert %s (%s): %s", key, kind, alert.subject)  # the English text
        return alert
    except Exception:  # noqa: BLE001 - an alert must never break the job that raised it
        log.exception("could not raise the alert %s: %s", key, subject)
        return None


async def resolve(key: str) -> None:
    """Close the open alert for ``key`` (if any), so the condition may alert again later."""
    try:
        await Alert.filter(key=key, resolved_at=None).update(resolved_at=datetime.now(UTC))
    except Exception:  # noqa: BLE001
        log.exception("could not resolve the alert %s", key)


async def open_alerts(limit: int = 50) -> list[Alert]:
    return await Alert.filter(resolved_at=None).order_by("-created_at").limit(limit)


async def recipients() -> list[tuple[str, str | None]]:
    """(email, locale) of whoever hears about alerts."""
    from managely.services.platform import get_setting  # platform imports email too

    configured = await get_setting(EMAILS_SETTING)
    if isinstance(configured, str):
        configured = configured.split(",")
    if configured:
        return [(str(e).strip(), None) for e in configured if str(e).strip()]
    roles = [
        role.id
        for role in await Role.filter(is_staff=True)
        if ALERT_PERMISSION in (role.permissions or [])
    ]
    users = (
        await User.filter(user_roles__role_id__in=roles, status=UserStatus.ACTIVE)
        .distinct()
        .order_by("id")
        if roles
        else []
    )
    found = [(user.email, user.locale) for user in users]
    return found or [(get_settings().staff_email, None)]


async def webhook_url() -> str | None:
    from managely.services.platform import get_setting

    return get_settings().alert_webhook_url or (await get_setting(WEBHOOK_SETTING)) or None


async def send_webhook(alert_id: int) -> None:
    """POST one alert to the webhook; raises on failure so the queue retries it."""
    alert = await Alert.get_or_none(id=alert_id)
    url = await webhook_url()
    if alert is None or url is None or alert.webhook_status == "sent":
        return
    payload = {
        "kind": alert.kind,
        "key": alert.key,
        "subject": alert.subject,
        "body": alert.body,
        "created_at": alert.created_at.isoformat(),
        "text": f"[Managely] {alert.subject}",  # what Slack-style webhooks show
    }
    try:
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
            response = await client.post(url, json=payload)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        await Alert.filter(id=alert.id).update(
            webhook_status="failed", webhook_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    await Alert.filter(id=alert.id).update(webhook_status="sent", webhook_error="")


# --- the periodic sweep: conditions nobody raises at the moment they happen -------------------

FAILED_BACKUP_WINDOW = timedelta(days=1)


async def sweep() -> dict[str, int]:
    """Alert on stuck operations, failed backups and failed clock tasks (renewals…); resolve
    the ones whose condition has cleared. Returns what it counted."""
    from managely.jobs.clock import last_runs  # the clock's module imports the actors' world
    from managely.services import admin_operations

    counts = {"stuck": 0, "backups": 0, "tasks": 0}
    now = datetime.now(UTC)
    # The staff page's definition of stuck, for operations that also stopped changing (a lease
    # that just expired is the reclaim sweep's, a minute later, not an alert).
    stuck = [
        operation
        for operation in await admin_operations.stuck()
        if operation.updated_at < now - admin_operations.STUCK_AFTER
    ]
    stuck_keys = set()
    for operation in stuck:
        key = f"operation:{operation.code}"
        stuck_keys.add(key)
        counts["stuck"] += 1
        await raise_alert(
            "stuck_operation",
            key,
            stored(
                "Operation %(kind)s %(code)s is stuck (%(status)s)",
                kind=operation.kind.value,
                code=operation.code,
                status=operation.status.value,
            ),
            stored(
                "Created %(created)s UTC; step %(step)s; attempts %(attempts)s.",
                created=f"{operation.created_at:%Y-%m-%d %H:%M}",
                step=operation.current_step or "-",
                attempts=operation.attempts,
            ),
        )
    for alert in await Alert.filter(kind="stuck_operation", resolved_at=None):
        if alert.key not in stuck_keys:
            await resolve(alert.key)

    failed_backups = await SaaSOperation.filter(
        kind__in=(OperationKind.BACKUP, OperationKind.RESTORE_DRILL),
        status=OperationStatus.FAILED,
        finished_at__gte=now - FAILED_BACKUP_WINDOW,
    ).limit(200)
    for operation in failed_backups:
        key = f"backup:{operation.code}"
        if await Alert.exists(key=key):
            continue  # told once; staff resolve it from the monitoring page
        counts["backups"] += 1
        await raise_alert(
            "backup_failed",
            key,
            stored("%(kind)s %(code)s failed", kind=operation.kind.value, code=operation.code),
            operation.error_detail or operation.error_message,
        )

    for task, run in (await last_runs()).items():
        key = f"clock:{task}"
        if run.status == "failed":
            counts["tasks"] += 1
            await raise_alert(
                "task_failed",
                key,
                stored("Scheduled task %(task)s failed", task=task),
                stored(
                    "Tick %(tick)s UTC: %(detail)s",
                    tick=f"{run.tick:%Y-%m-%d %H:%M}",
                    detail=run.detail,
                ),
            )
        elif run.status == "done":
            await resolve(key)
    return counts
