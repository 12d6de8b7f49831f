"""The email outbox: render in the recipient's language, store a row, send it from a job.

A failed delivery is retried with exponential backoff; the row keeps the status, the number
of attempts and the last error, so staff can see what happened to every message.

Attachments (an invoice's PDF) are kept as files under ``<data dir>/outbox/<message id>/``
until the message is sent.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiosmtplib

from managely import db, i18n
from managely.models.platform import EmailMessage, EmailStatus
from managely.queue import enqueue
from managely.settings import get_settings
from managely.templating import render

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 30


@dataclass(frozen=True)
class Attachment:
    filename: str  # a plain name, e.g. "INV-2026-000001.pdf"; its type is guessed from it
    content: bytes


def attachments_dir(email_id: int) -> Path:
    return get_settings().data_dir / "outbox" / str(email_id)


def _store_attachments(email_id: int, attachments: Sequence[Attachment]) -> None:
    folder = attachments_dir(email_id)
    # SQLite hands out a rolled-back row's id again: its files must not ride along.
    shutil.rmtree(folder, ignore_errors=True)
    if not attachments:
        return
    folder.mkdir(parents=True)
    for attachment in attachments:
        (folder / Path(attachment.filename).name).write_bytes(attachment.content)


def render_email(template: str, locale: str, context: dict) -> tuple[str, str, str]:
    """Subject, text body and HTML body of ``templates/email/<template>/`` in ``locale``."""
    settings = get_settings()
    context = {"public_url": settings.public_url, **context}
    with i18n.use_locale(locale):
        subject = render(f"email/{template}/subject.txt", **context).strip()
        text = render(f"email/{template}/body.txt", **context)
        html = render(f"email/{template}/body.html", email_subject=subject, **context)
    return subject, text, html


async def queue_email(
    to: str,
    template: str,
    context: dict,
    locale: str | None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """Store an email in the outbox and send it once the current transaction commits."""
    locale = locale if locale in i18n.LOCALES else i18n.DEFAULT_LOCALE
    subject, text, html = render_email(template, locale, context)
    async with db.atomic():
        message = await EmailMessage.create(
            to=to, template=template, locale=locale, subject=subject, body_text=text, body_html=html
        )
        _store_attachments(message.id, attachments)
        enqueue("email.send", message.id)
    return message


def _mime(message: EmailMessage) -> MimeMessage:
    mime = MimeMessage()
    mime["From"] = get_settings().mail_from
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime.set_content(message.body_text)
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
    folder = attachments_dir(message.id)
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        mime.add_attachment(
            path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name
        )
    mime["Content-Language"] = message.locale  # after set_content, which drops Content-* headers
    return mime


async def _transmit(mime: MimeMessage) -> None:
    url = urlsplit(get_settings().smtp_url)
    if url.scheme == "console":
        # `managely dev` without SMTP: the message is printed so a developer can read codes.
        log.warning(
            "email (console transport) to %s: %s\n%s",
            mime["To"],
            mime["Subject"],
            mime.get_body(("plain",)).get_content(),
        )
        return
    await aiosmtplib.send(
        mime,
        hostname=url.hostname or "localhost",
        port=url.port or (465 if url.scheme == "smtps" else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=url.scheme == "smtps",
        start_tls=None,
        timeout=20,
    )


async def deliver(email_id: int) -> EmailStatus:
    """Send one outbox message; on failure schedule the next attempt or give up."""
    message = await EmailMessage.get_or_none(id=email_id)
    if message is None or message.status != EmailStatus.QUEUED:
        return message.status if message else EmailStatus.FAILED
    if message.next_attempt_at and message.next_attempt_at > datetime.now(UTC):
        return message.status  # an early duplicate; the scheduled attempt will come
    # Claim this attempt: if the sweep and a delayed retry race, only one sends.
    claimed = await EmailMessage.filter(
        id=message.id, status=EmailStatus.QUEUED, attempts=message.attempts
    ).update(
        attempts=message.attempts + 1, next_attempt_at=datetime.now(UTC) + timedelta(minutes=10)
    )
    if not claimed:
        return message.status
    message.attempts += 1
    try:
        await _transmit(_mime(message))
    except (aiosmtplib.SMTPException, OSError) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = EmailStatus.FAILED
        else:
            delay = timedelta(seconds=BACKOFF_BASE_S * 2 ** (message.attempts - 1))
            message.next_attempt_at = datetime.now(UTC) + delay
            enqueue("email.send", message.id, delay_ms=int(delay.total_seconds() * 1000))
        await message.save()
        log.warning("email %s attempt %s failed: %s", message.id, message.attempts, exc)
        return message.status
    message.status = EmailStatus.SENT
    message.sent_at = datetime.now(UTC)
    message.last_error = ""
    await message.save()
    shutil.rmtree(attachments_dir(message.id), ignore_errors=True)
    return message.status


async def sweep_due() -> int:
    """Enqueue queued messages whose next attempt is due; returns how many."""
    due = await EmailMessage.filter(
        status=EmailStatus.QUEUED, next_attempt_at__lte=datetime.now(UTC)
    ).values_list("id", flat=True)
    for email_id in due:
        enqueue("email.send", email_id)
    return len(due)
