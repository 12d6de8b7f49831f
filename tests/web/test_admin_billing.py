"""Staff billing oversight: lists, refunds, the PayPal inbox replay, failed renewals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely import settings
from managely.models.billing import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    WalletTransaction,
    WalletTransactionKind,
)
from managely.models.platform import AuditLog
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import admin_billing, paypal, wallet
from managely.web import create_app
from tests.conftest import PASSWORD, _apply_env, make_user
from tests.support import Browser, text
from tests.web.routes import _subscription, make_invoice

PAYPAL_ENV = {
    "MANAGELY_PAYPAL_BASE_URL": "http://127.0.0.1:9",  # never called: capture events need no API
    "MANAGELY_PAYPAL_CLIENT_ID": "client",
    "MANAGELY_PAYPAL_CLIENT_SECRET": "secret",
    "MANAGELY_PAYPAL_WEBHOOK_ID": "hook",
}


@pytest.fixture
async def staff(app) -> Browser:
    user = await make_user("billing@staff.example.com", "billing")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def test_a_refund_credits_the_wallet_once_however_often_the_form_is_sent(staff, alice):
    invoice = await make_invoice(alice)  # paid, 29.00
    form = {"amount": "10", "destination": "wallet", "reason": "Outage", "key": "form-1"}
    for _ in range(2):
        response = await staff.post(f"/admin/billing/invoices/{invoice.code}/refund", form)
        assert response.status_code == 302, await text(response)
    refund = await Refund.get(invoice=invoice)
    assert (refund.amount_minor, refund.status) == (1000, "succeeded")
    assert await wallet.balance(alice, "USD") == 1000
    note = await Invoice.get(kind=InvoiceKind.CREDIT_NOTE)
    assert (note.credit_for_id, note.total_minor, note.status) == (invoice.id, 1000, "paid")
    await invoice.refresh_from_db()
    assert invoice.total_minor == 2900 and invoice.status == InvoiceStatus.PAID
    assert await AuditLog.filter(action="billing.refund_request").count() == 1
    page = await staff.get(f"/admin/billing/invoices/{invoice.code}")
    assert "$19.00" in await text(page)  # what is left to refund


async def test_refunding_more_than_is_left_is_refused_and_moves_nothing(staff, alice):
    invoice = await make_invoice(alice)
    form = {"amount": "29.01", "destination": "wallet", "reason": "Too much", "key": "form-2"}
    response = await staff.post(f"/admin/billing/invoices/{invoice.code}/refund", form)
    assert response.status_code == 400
    assert "At most $29.00 can still be refunded" in await text(response)
    assert await Refund.all().count() == 0 and await wallet.balance(alice, "USD") == 0


async def test_staff_without_the_refund_permission_cannot_refund(app, alice):
    user = await make_user("support@staff.example.com", "support")
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    invoice = await make_invoice(alice)
    form = {"amount": "1", "destination": "wallet", "reason": "x", "key": "k"}
    response = await browser.post(f"/admin/billing/invoices/{invoice.code}/refund", form)
    assert response.status_code == 403
    assert await Refund.all().count() == 0


@pytest.fixture
async def paypal_app(database):
    paypal.forget_tokens()
    _apply_env(**PAYPAL_ENV)
    yield create_app(settings.get_settings())
    _apply_env(**dict.fromkeys(PAYPAL_ENV))


async def test_replaying_a_capture_event_credits_the_top_up_exactly_once(paypal_app, alice):
    user = await make_user("billing@staff.example.com", "billing")
    staff = Browser(paypal_app.test_client())
    await staff.login(user.email, PASSWORD)
    top_up = await wallet.wallet_for(alice, "USD")
    await Payment.create(
        user=alice,
        wallet=top_up,
        gateway="paypal",
        gateway_order_id="ORDER-1",
        amount_minor=2000,
        currency="USD",
        status=PaymentStatus.APPROVED,
    )
    resource = {
        "id": "CAPTURE-1",
        "status": "COMPLETED",
        "amount": {"currency_code": "USD", "value": "20.00"},
        "supplementary_data": {"related_ids": {"order_id": "ORDER-1"}},
    }
    event = await PaymentEvent.create(
        gateway="paypal",
        event_id="WH-1",
        event_type="PAYMENT.CAPTURE.COMPLETED",
        payload={"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": resource},
        verified=True,
        error="database went away",  # its first delivery failed half-way
    )
    for _ in range(3):
        response = await staff.post("/admin/billing/events/WH-1/replay")
        assert response.status_code == 302, await text(response)
    assert await wallet.balance(alice, "USD") == 2000
    assert await WalletTransaction.filter(kind=WalletTransactionKind.RECHARGE).count() == 1
    payment = await Payment.get(gateway_order_id="ORDER-1")
    assert (payment.status, payment.gateway_capture_id) == ("captured", "CAPTURE-1")
    await event.refresh_from_db()
    assert event.processed_at is not None and event.error == ""
    assert await AuditLog.filter(action="billing.event_replay").count() == 3
    page = await staff.get("/admin/billing/events/WH-1")
    assert "CAPTURE-1" in await text(page)


async def test_invoice_filters_and_keyset_pages(staff, alice, monkeypatch):
    old, new, other = [await make_invoice(alice) for _ in range(3)]
    now = datetime.now(UTC)
    await Invoice.filter(id=old.id).update(issued_at=now - timedelta(days=400))
    await Invoice.filter(id=other.id).update(currency="EUR", status=InvoiceStatus.OPEN)
    usd = admin_billing.InvoiceFilters.parse({"currency": "USD", "status": "paid"})
    page = await admin_billing.list_invoices(usd)
    assert [i.id for i in page.rows] == [new.id, old.id] and page.next_cursor == ""
    recent = (now - timedelta(days=30)).date().isoformat()
    since = admin_billing.InvoiceFilters.parse({"since": recent, "currency": "USD"})
    assert [i.id for i in (await admin_billing.list_invoices(since)).rows] == [new.id]
    assert admin_billing.InvoiceFilters.parse({"status": "bogus", "since": "x"}).query_args() == {}
    monkeypatch.setattr(admin_billing, "PAGE_SIZE", 2)
    everything = admin_billing.InvoiceFilters()
    first = await admin_billing.list_invoices(everything)
    assert [i.id for i in first.rows] == [other.id, new.id] and first.next_cursor == str(new.id)
    second = await admin_billing.list_invoices(everything, first.next_cursor)
    assert [i.id for i in second.rows] == [old.id] and second.next_cursor == ""
    response = await staff.get("/admin/billing?currency=EUR")
    body = await text(response)
    assert other.number in body and new.number not in body


async def test_a_customers_ledger_pages_newest_first(staff, alice, monkeypatch):
    for n in range(1, 4):
        await wallet.post(alice, "USD", n * 100, WalletTransactionKind.RECHARGE, f"t:{n}")
    monkeypatch.setattr(admin_billing, "PAGE_SIZE", 2)
    first = await admin_billing.customer_ledger(alice.code, "USD")
    assert [e.amount_minor for e in first.rows] == [300, 200]
    second = await admin_billing.customer_ledger(alice.code, "USD", first.next_cursor)
    assert [e.amount_minor for e in second.rows] == [100] and second.next_cursor == ""
    response = await staff.get(f"/admin/billing/wallets/{alice.code}?currency=USD")
    body = await text(response)
    assert "$6.00" in body and f"/admin/users/{alice.code}/wallet" in body
    wallets = await staff.get("/admin/billing/wallets")
    assert alice.email in await text(wallets)


async def test_failed_renewals_list_past_due_subscriptions(staff, alice, bob):
    late = await Subscription.get(code=(await _subscription(alice))["code"])
    await _subscription(bob)  # active: not listed
    await Subscription.filter(id=late.id).update(
        status=SubscriptionStatus.PAST_DUE, past_due_since=datetime.now(UTC) - timedelta(days=2)
    )
    page = await admin_billing.failed_renewals()
    assert [s.id for s in page.rows] == [late.id]
    response = await staff.get("/admin/billing/renewals")
    body = await text(response)
    assert alice.email in body and bob.email not in body
