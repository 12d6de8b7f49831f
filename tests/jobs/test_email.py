"""The outbox: sent only after commit, delivered by the worker, retried with backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely import db, settings
from managely.models.platform import EmailMessage, EmailStatus
from managely.services import email as email_service
from managely.services.email import queue_email


async def test_a_queued_email_is_sent_after_commit(smtp, run_jobs, database):
    message = await queue_email(
        "x@example.com", "otp", {"name": "X", "code": "123456", "minutes": 10}, "ar"
    )
    await run_jobs()
    await message.refresh_from_db()
    assert message.status == EmailStatus.SENT
    assert message.attempts == 1
    received = smtp.to("x@example.com")[-1]
    assert received["Content-Language"] == "ar"
    assert "123456" in received["Subject"]
    html = received.get_body(("html",)).get_content()
    assert 'dir="rtl"' in html


async def test_a_rolled_back_transaction_sends_nothing(smtp, run_jobs, database):
    with pytest.raises(RuntimeError):
        async with db.atomic():
            await queue_email(
                "y@example.com", "otp", {"name": "Y", "code": "111111", "minutes": 10}, "en"
            )
            raise RuntimeError("abort")
    await run_jobs()
    assert await EmailMessage.filter(to="y@example.com").count() == 0
    assert smtp.to("y@example.com") == []


async def test_a_failed_delivery_is_retried_with_backoff_then_given_up(
    monkeypatch, run_jobs, database, smtp
):
    monkeypatch.setenv("MANAGELY_SMTP_URL", "smtp://127.0.0.1:9")  # nothing listens on port 9
    settings.reset()
    try:
        message = await queue_email(
            "z@example.com", "otp", {"name": "Z", "code": "222222", "minutes": 10}, "en"
        )
        await run_jobs()
        await message.refresh_from_db()
        assert message.status == EmailStatus.QUEUED
        assert message.attempts == 1
        assert "ConnectionRefused" in message.last_error or "SMTP" in message.last_error
        assert message.next_attempt_at > datetime.now(UTC) + timedelta(seconds=20)
        for attempt in range(2, email_service.MAX_ATTEMPTS + 1):
            await EmailMessage.filter(id=message.id).update(next_attempt_at=datetime.now(UTC))
            await email_service.deliver(message.id)
            await message.refresh_from_db()
            assert message.attempts == attempt
        assert message.status == EmailStatus.FAILED
    finally:
        monkeypatch.delenv("MANAGELY_SMTP_URL")
        settings.reset()


async def test_the_sweep_sends_due_messages_once(smtp, run_jobs, database):
    message = await EmailMessage.create(
        to="w@example.com",
        template="otp",
        subject="s",
        body_text="t",
        next_attempt_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    assert await email_service.sweep_due() == 1
    await email_service.deliver(message.id)  # a late duplicate of the same attempt
    await run_jobs()
    await message.refresh_from_db()
    assert message.status == EmailStatus.SENT
    assert len(smtp.to("w@example.com")) == 1
