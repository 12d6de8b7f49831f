"""Wallet top-ups through PayPal, PayPal's webhooks, and staff adjustments.

PayPal is tests/paypal_fake.py: a real HTTP server on loopback answering PayPal's documented
payloads. The buyer's trip to PayPal's approval page and back is made with httpx; webhooks are
posted by the test as PayPal would, signed (or not) by the fake.
"""

from __future__ import annotations

import asyncio
import random
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from managely import i18n, settings
from managely.models.accounts import ServiceBeneficiary
from managely.models.billing import (
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
    Wallet,
    WalletTransaction,
    WalletTransactionKind,
)
from managely.models.catalog import Package
from managely.models.platform import AuditLog
from managely.services import invoices, payments, paypal, pricing, refunds, seed, wallet
from managely.settings import SettingsError, load
from managely.web import create_app
from tests.conftest import PASSWORD, _apply_env, make_user
from tests.paypal_fake import CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, FakePayPal
from tests.support import Browser, _free_port, text

NEXT = "/panel/systems/new?package=starter&mode=paid&currency=USD"


@pytest.fixture(scope="session")
def fake_paypal():
    running = FakePayPal().start()
    yield running
    running.stop()


def paypal_env(base_url: str | None) -> dict[str, str | None]:
    return {
        "MANAGELY_PAYPAL_BASE_URL": base_url,
        "MANAGELY_PAYPAL_CLIENT_ID": CLIENT_ID if base_url else None,
        "MANAGELY_PAYPAL_CLIENT_SECRET": CLIENT_SECRET if base_url else None,
        "MANAGELY_PAYPAL_WEBHOOK_ID": WEBHOOK_ID if base_url else None,
    }


@pytest.fixture
async def app(database, fake_paypal):
    """The app with PayPal configured from the environment, pointing at the fake."""
    fake_paypal.reset()
    paypal.forget_tokens()
    _apply_env(**paypal_env(fake_paypal.base_url))
    yield create_app(settings.get_settings())
    _apply_env(**paypal_env(None))


async def start_top_up(client: Browser, amount: str = "50", next_url: str = NEXT):
    response = await client.post(
        "/recharge_wallet", {"amount": amount, "currency": "USD", "next": next_url}
    )
    assert response.status_code == 303, await text(response)
    payment = await Payment.all().order_by("-id").first()
    return payment, response.headers["Location"]


async def approve_at_paypal(approve_url: str) -> str:
    """The buyer approves on PayPal's page; answer the return URL PayPal sends them to."""
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(approve_url)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == "http://127.0.0.1:5000"
    return f"{back.path}?{back.query}"


async def deliver(app, fake: FakePayPal, event: dict, *, forged: bool = False):
    raw, headers = fake.deliver(event, forged=forged)
    return await app.test_client().post("/paypal/webhook", data=raw, headers=headers)


async def assert_ledger_matches(user, currency: str = "USD") -> int:
    account = await Wallet.get(user=user, currency=currency)
    entries = await WalletTransaction.filter(wallet=account)
    assert sum(e.amount_minor for e in entries) == account.balance_minor
    return account.balance_minor


async def nothing_written() -> None:
    assert await Payment.all().count() == 0
    assert await Wallet.all().count() == 0
    assert await WalletTransaction.all().count() == 0


# -- settings -------------------------------------------------------------------------------------


def test_paypal_settings_are_checked(tmp_path):
    base = {"MANAGELY_SECRET_KEY": "k" * 40, "MANAGELY_DATA_DIR": str(tmp_path)}
    off = load(base).paypal
    assert off.base_url == "https://api-m.sandbox.paypal.com" and not off.enabled
    on = load({**base, **{k: v for k, v in paypal_env("http://127.0.0.1:9/").items()}}).paypal
    assert on.enabled and on.base_url == "http://127.0.0.1:9" and on.webhook_id == WEBHOOK_ID
    with pytest.raises(SettingsError, match="MANAGELY_PAYPAL_BASE_URL must be an https:// URL"):
        load({**base, "MANAGELY_PAYPAL_BASE_URL": "http://paypal.example.com"})
    with pytest.raises(SettingsError, match="MANAGELY_PAYPAL_CLIENT_SECRET .* is required"):
        load({**base, "MANAGELY_PAYPAL_CLIENT_ID": "id", "MANAGELY_PAYPAL_WEBHOOK_ID": "w"})


# -- the wallet page ------------------------------------------------------------------------------


async def test_the_wallet_page_offers_a_top_up_that_keeps_the_order(alice_client, fake_paypal):
    response = await alice_client.get("/panel/wallet?currency=USD&amount=3.2&next=/panel/x")
    page = await text(response)
    assert 'action="/recharge_wallet"' in page
    assert 'name="amount" value="5.00"' in page  # a shortfall under the minimum is raised to it
    assert 'name="next" value="/panel/x"' in page
    assert "From $5.00 to $10,000.00." in page
    # The form's redirect goes on to PayPal: the page's CSP lets it, and only this page.
    policy = response.headers["Content-Security-Policy"]
    assert f"form-action 'self' {fake_paypal.base_url};" in policy
    other = await alice_client.get("/panel/")
    assert "form-action 'self';" in other.headers["Content-Security-Policy"]
    shortfall = await text(await alice_client.get("/panel/wallet?currency=USD&amount=23.45"))
    assert 'name="amount" value="23.45"' in shortfall


async def test_without_paypal_the_wallet_page_says_top_ups_are_off(database, alice):
    no_paypal = create_app(settings.get_settings())
    browser = Browser(no_paypal.test_client())
    await browser.login(alice.email, PASSWORD)
    page = await text(await browser.get("/panel/wallet"))
    assert "Top-ups by PayPal are not available right now." in page
    assert 'action="/recharge_wallet"' not in page
    response = await browser.post("/recharge_wallet", {"amount": "50", "currency": "USD"})
    assert response.status_code == 503
    webhook = await no_paypal.test_client().post("/paypal/webhook", data=b"{}")
    assert webhook.status_code == 503
    await nothing_written()


# -- the top-up -----------------------------------------------------------------------------------


async def test_a_top_up_goes_to_paypal_and_back_to_the_order(alice_client, alice, fake_paypal):
    payment, approve_url = await start_top_up(alice_client)
    assert payment.status == PaymentStatus.CREATED and payment.amount_minor == 5000
    assert approve_url == f"{fake_paypal.base_url}/checkoutnow?token={payment.gateway_order_id}"
    order = fake_paypal.order_by_reference(payment.code)
    assert order["unit"]["amount"] == {"currency_code": "USD", "value": "50.00"}
    assert order["unit"]["custom_id"] == payment.code
    assert ("/v2/checkout/orders", payment.code) in fake_paypal.replays  # PayPal-Request-Id
    back = parse_qs(urlsplit(order["context"]["return_url"]).query)
    assert back == {"payment": [payment.code], "next": [NEXT]}
    assert await WalletTransaction.all().count() == 0  # nothing before the money is captured

    return_path = await approve_at_paypal(approve_url)
    response = await alice_client.get(return_path)
    assert response.status_code == 302 and response.headers["Location"] == NEXT
    captured = await Payment.get(id=payment.id)
    assert captured.status == PaymentStatus.CAPTURED and captured.captured_at is not None
    entry = await WalletTransaction.get(
        idempotency_key=f"paypal:capture:{captured.gateway_capture_id}"
    )
    assert (entry.amount_minor, entry.kind, entry.reference) == (5000, "recharge", payment.code)
    assert await wallet.balance(alice, "USD") == 5000
    assert "Your wallet was topped up with $50.00." in await text(await alice_client.get("/panel/"))

    # Coming back again (a reload, a second tab) captures and credits nothing more.
    again = await alice_client.get(return_path)
    assert again.status_code == 302 and again.headers["Location"] == NEXT
    assert fake_paypal.calls.count(("POST", f"/v2/checkout/orders/{order['id']}/capture")) == 1
    assert await WalletTransaction.all().count() == 1
    assert await assert_ledger_matches(alice) == 5000


async def test_the_return_and_the_webhook_for_one_capture_credit_once(
    app, alice_client, alice, fake_paypal
):
    payment, approve_url = await start_top_up(alice_client, "20")
    await alice_client.get(await approve_at_paypal(approve_url))
    capture_id = (await Payment.get(id=payment.id)).gateway_capture_id
    response = await deliver(app, fake_paypal, fake_paypal.capture_event(capture_id))
    assert response.status_code == 200 and (await response.get_json())["status"] == "applied"
    event = await PaymentEvent.get(event_type="PAYMENT.CAPTURE.COMPLETED")
    assert event.verified and event.processed_at is not None and event.error == ""
    assert await WalletTransaction.all().count() == 1
    assert await assert_ledger_matches(alice) == 2000


async def test_the_webhook_first_then_the_return_credit_once(app, alice_client, alice, fake_paypal):
    payment, approve_url = await start_top_up(alice_client, "20")
    return_path = await approve_at_paypal(approve_url)
    capture_id = fake_paypal.capture_now(payment.gateway_order_id)  # our answer got lost
    assert (
        await deliver(app, fake_paypal, fake_paypal.capture_event(capture_id))
    ).status_code == 200
    assert await wallet.balance(alice, "USD") == 2000
    response = await alice_client.get(return_path)
    assert response.status_code == 302 and response.headers["Location"] == NEXT
    assert await WalletTransaction.all().count() == 1
    assert await assert_ledger_matches(alice) == 2000


@pytest.mark.parametrize("order", ["refund_first", "completed_first", "shuffled", "one_by_one"])
async def test_one_event_delivered_five_times_concurrently_and_out_of_order_credits_once(
    app, alice_client, alice, fake_paypal, order
):
    payment, approve_url = await start_top_up(alice_client, "50")
    await approve_at_paypal(approve_url)
    capture_id = fake_paypal.capture_now(payment.gateway_order_id)  # the return never came
    completed = fake_paypal.capture_event(capture_id)
    refunded = fake_paypal.refund_event(fake_paypal.refund_now(capture_id, 2000))
    deliveries = [completed] * 5 + [refunded] * 2
    if order in ("refund_first", "one_by_one"):
        deliveries = [refunded, *[completed] * 5, refunded]
    elif order == "shuffled":
        random.shuffle(deliveries)

    if order == "one_by_one":  # strictly in that order: the refund overtakes the capture
        responses = [await deliver(app, fake_paypal, e) for e in deliveries]
    else:  # all at once: duplicates race each other through the inbox and the ledger
        responses = await asyncio.gather(*(deliver(app, fake_paypal, e) for e in deliveries))
    assert [r.status_code for r in responses] == [200] * 7
    outcomes = [(await r.get_json())["status"] for r in responses]
    assert "applied" in outcomes and set(outcomes) <= {"applied", "duplicate"}
    if order == "one_by_one":
        assert outcomes == ["applied", "applied", *["duplicate"] * 5]

    entries = await WalletTransaction.all().order_by("id")
    assert sorted(e.amount_minor for e in entries) == [-2000, 5000]
    assert {e.idempotency_key for e in entries} == {
        f"paypal:capture:{capture_id}",
        f"paypal:refund:{refunded['resource']['id']}",
    }
    assert await assert_ledger_matches(alice) == 3000
    final = await Payment.get(id=payment.id)
    assert final.status == PaymentStatus.REFUNDED and final.gateway_capture_id == capture_id
    refund = await Refund.get(payment=final)
    assert (refund.status, refund.amount_minor) == (RefundStatus.SUCCEEDED, 2000)
    events = await PaymentEvent.all()
    assert len(events) == 2 and all(e.processed_at and e.verified for e in events)

    # A late resend of either changes nothing.
    for event in (completed, refunded):
        late = await deliver(app, fake_paypal, event)
        assert (await late.get_json())["status"] == "duplicate"
    assert await assert_ledger_matches(alice) == 3000


async def test_a_forged_webhook_is_refused_and_nothing_is_stored(
    app, alice_client, alice, fake_paypal
):
    payment, approve_url = await start_top_up(alice_client, "50")
    await approve_at_paypal(approve_url)
    capture_id = fake_paypal.capture_now(payment.gateway_order_id)
    event = fake_paypal.capture_event(capture_id)
    forged = await deliver(app, fake_paypal, event, forged=True)
    assert forged.status_code == 400
    # Genuine headers on an event someone changed on the way.
    raw, headers = fake_paypal.deliver(event)
    tampered = raw.replace(b'"value":"50.00"', b'"value":"5000.00"')
    assert tampered != raw
    response = await app.test_client().post("/paypal/webhook", data=tampered, headers=headers)
    assert response.status_code == 400
    no_headers = await app.test_client().post("/paypal/webhook", data=raw)
    assert no_headers.status_code == 400
    garbage = await app.test_client().post("/paypal/webhook", data=b"not json", headers=headers)
    assert garbage.status_code == 400
    assert fake_paypal.verifications == ["FAILURE", "FAILURE"]  # the rest never reached PayPal
    assert await PaymentEvent.all().count() == 0
    assert await WalletTransaction.all().count() == 0
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.CREATED
    # The genuine delivery of that same event id is not mistaken for a duplicate afterwards.
    genuine = await deliver(app, fake_paypal, event)
    assert (await genuine.get_json())["status"] == "applied"
    assert await wallet.balance(alice, "USD") == 5000


async def test_a_denied_capture_credits_nothing(app, alice_client, alice, fake_paypal):
    fake_paypal.pending_captures = True
    payment, approve_url = await start_top_up(alice_client, "50")
    response = await alice_client.get(await approve_at_paypal(approve_url))
    assert response.status_code == 302 and response.headers["Location"].startswith("/panel/wallet")
    pending = await Payment.get(id=payment.id)
    assert pending.status == PaymentStatus.APPROVED and pending.gateway_capture_id
    assert "PayPal is still processing your payment." in await text(
        await alice_client.get("/panel/")
    )
    denied = fake_paypal.capture_event(pending.gateway_capture_id, "PAYMENT.CAPTURE.DENIED")
    assert (await deliver(app, fake_paypal, denied)).status_code == 200
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.DENIED
    assert await wallet.balance(alice, "USD") == 0
    assert await WalletTransaction.all().count() == 0


async def test_a_declined_payment_is_explained_and_credits_nothing(
    alice_client, alice, fake_paypal
):
    fake_paypal.decline_captures = True
    payment, approve_url = await start_top_up(alice_client, "50")
    response = await alice_client.get(await approve_at_paypal(approve_url))
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/wallet?currency=USD&next=" + (
        "/panel/systems/new?package%3Dstarter%26mode%3Dpaid%26currency%3DUSD"
    )
    page = await text(await alice_client.get(response.headers["Location"]))
    assert "PayPal declined this payment. Nothing was charged" in page
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.FAILED
    assert await WalletTransaction.all().count() == 0


async def test_a_cancelled_payment_goes_back_to_the_wallet(alice_client, fake_paypal):
    payment, _ = await start_top_up(alice_client, "50")
    order = fake_paypal.order_by_reference(payment.code)
    cancel = urlsplit(order["context"]["cancel_url"])
    response = await alice_client.get(f"{cancel.path}?{cancel.query}&token={order['id']}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/panel/wallet?currency=USD&next=")
    page = await text(await alice_client.get(response.headers["Location"]))
    assert "You cancelled the payment at PayPal. Nothing was charged." in page
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.FAILED


async def test_paypal_being_down_is_explained_and_writes_nothing(alice_client, fake_paypal):
    fake_paypal.fail_with = 503
    response = await alice_client.post("/recharge_wallet", {"amount": "50", "currency": "USD"})
    assert response.status_code == 502
    assert "PayPal could not be reached. Nothing was charged" in await text(response)
    await nothing_written()
    # Nobody listening at all.
    _apply_env(MANAGELY_PAYPAL_BASE_URL=f"http://127.0.0.1:{_free_port()}")
    response = await alice_client.post(
        "/recharge_wallet", {"amount": "50", "currency": "USD", "next": NEXT}
    )
    assert response.status_code == 502
    page = await text(response)
    assert (
        "PayPal could not be reached." in page and 'name="next" value="/panel/systems/new?' in page
    )
    await nothing_written()


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("4.99", "USD", "A top-up is between $5.00 and $10,000.00."),
        ("10000.01", "USD", "A top-up is between $5.00 and $10,000.00."),
        ("ten", "USD", "Enter an amount like $25.00."),
        ("5.001", "USD", "Enter an amount like $25.00."),
        ("-50", "USD", "Enter an amount like $25.00."),
        ("50", "SAR", "Top-ups in SAR are not available. Choose another currency."),
    ],
)
async def test_amounts_outside_the_limits_are_refused(
    alice_client, fake_paypal, amount, currency, message
):
    response = await alice_client.post("/recharge_wallet", {"amount": amount, "currency": currency})
    assert response.status_code == 400
    assert message in await text(response)
    assert not fake_paypal.orders
    await nothing_written()


async def test_limit_errors_follow_the_customers_language(alice_client):
    response = await alice_client.post(
        "/recharge_wallet", {"amount": "1", "currency": "USD"}, headers={"Accept-Language": "ar"}
    )
    with i18n.use_locale("ar"):
        low, high = i18n.format_money(500, "USD"), i18n.format_money(1_000_000, "USD")
    page = await text(response)
    assert response.status_code == 400 and low in page and high in page


async def test_typed_amounts_are_read_generously():
    assert payments.parse_amount("1,250.5", "USD") == 125050
    assert payments.parse_amount(" ٢٥٫٥٠ ", "USD") == 2550
    assert payments.parse_amount("500", "JPY") == 500


async def test_an_outsider_cannot_complete_or_cancel_someone_elses_payment(
    alice_client, charlie_client, fake_paypal
):
    payment, approve_url = await start_top_up(alice_client, "50")
    return_path = await approve_at_paypal(approve_url)
    assert (await charlie_client.get(return_path)).status_code == 404
    cancel = f"/paypal/cancel?payment={payment.code}"
    assert (await charlie_client.get(cancel)).status_code == 404
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.CREATED
    assert not fake_paypal.captures and await WalletTransaction.all().count() == 0
    # The right owner with another order's token is refused too.
    wrong_token = return_path.replace(payment.gateway_order_id, "5O190127TN364715T")
    assert (await alice_client.get(wrong_token)).status_code == 404


async def test_a_refund_the_wallet_cannot_cover_is_flagged_not_overdrawn(
    app, alice_client, alice, fake_paypal
):
    payment, approve_url = await start_top_up(alice_client, "50")
    await alice_client.get(await approve_at_paypal(approve_url))
    capture_id = (await Payment.get(id=payment.id)).gateway_capture_id
    await wallet.post(alice, "USD", -4000, WalletTransactionKind.CHARGE, "order:spent")
    refunded = fake_paypal.refund_event(fake_paypal.refund_now(capture_id, 2000))
    assert (await deliver(app, fake_paypal, refunded)).status_code == 200
    assert await assert_ledger_matches(alice) == 1000
    refund = await Refund.get(payment_id=payment.id)
    assert refund.status == RefundStatus.PENDING and "not debited" in refund.error
    flag = await AuditLog.get(action="payment.refund_uncovered")
    assert flag.target_id == payment.code and flag.actor_id is None
    event = await PaymentEvent.get(event_type="PAYMENT.CAPTURE.REFUNDED")
    assert event.processed_at is not None and "not debited" in event.error
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REFUNDED


# -- the gateway itself ---------------------------------------------------------------------------


async def test_the_token_is_reused_and_renewed_when_paypal_revokes_it(app, fake_paypal):
    gateway_settings = settings.get_settings().paypal
    async with paypal.PayPal(gateway_settings) as gateway:
        first = await gateway.create_order(
            reference="ref-one",
            amount_minor=1234,
            currency="USD",
            description="x",
            return_url="http://127.0.0.1:5000/r",
            cancel_url="http://127.0.0.1:5000/c",
        )
        again = await gateway.create_order(
            reference="ref-one",
            amount_minor=1234,
            currency="USD",
            description="x",
            return_url="http://127.0.0.1:5000/r",
            cancel_url="http://127.0.0.1:5000/c",
        )
    assert first.id == again.id and fake_paypal.token_requests == 1
    fake_paypal.tokens.clear()  # PayPal forgot it before its expiry
    async with paypal.PayPal(gateway_settings) as gateway:
        third = await gateway.create_order(
            reference="ref-two",
            amount_minor=500,
            currency="USD",
            description="x",
            return_url="http://127.0.0.1:5000/r",
            cancel_url="http://127.0.0.1:5000/c",
        )
    assert third.id != first.id and fake_paypal.token_requests == 2


async def test_a_capture_can_be_refunded_through_the_api(app, fake_paypal):
    async with paypal.PayPal(settings.get_settings().paypal) as gateway:
        order = await gateway.create_order(
            reference="ref-refund",
            amount_minor=5000,
            currency="USD",
            description="x",
            return_url="http://127.0.0.1:5000/r",
            cancel_url="http://127.0.0.1:5000/c",
        )
        fake_paypal.approve(order.id)
        capture = await gateway.capture_order(order.id, request_id="ref-refund-capture")
        assert (capture.status, capture.amount_minor, capture.order_id) == (
            "COMPLETED",
            5000,
            order.id,
        )
        refund = await gateway.refund_capture(
            capture.id, request_id="refund-1", amount_minor=1500, currency="USD", note="Sorry"
        )
        assert (refund.status, refund.amount_minor, refund.capture_id) == (
            "COMPLETED",
            1500,
            capture.id,
        )
        assert (await gateway.get_capture(capture.id)).status == "PARTIALLY_REFUNDED"
        # Capturing the same order again answers the capture it already has.
        assert (await gateway.capture_order(order.id, request_id="other")).id == capture.id
        with pytest.raises(paypal.PaymentDeclined):
            fake_paypal.decline_captures = True
            second = await gateway.create_order(
                reference="ref-declined",
                amount_minor=5000,
                currency="USD",
                description="x",
                return_url="http://127.0.0.1:5000/r",
                cancel_url="http://127.0.0.1:5000/c",
            )
            fake_paypal.approve(second.id)
            await gateway.capture_order(second.id, request_id="ref-declined-capture")


# -- staff ----------------------------------------------------------------------------------------


async def test_staff_with_the_permission_credit_and_debit_with_a_reason(app, alice):
    billing = await make_user("billie@staff.example.com", "billing")
    staff = Browser(app.test_client())
    await staff.login(billing.email, PASSWORD)
    url = f"/admin/users/{alice.code}/wallet"
    page = await text(await staff.get(url))
    assert "Wallet of Alice Owner" in page
    key = page.split('name="key" value="', 1)[1].split('"', 1)[0]
    credit = {
        "direction": "credit",
        "amount": "20",
        "currency": "USD",
        "reason": "Goodwill",
        "key": key,
    }
    response = await staff.post(url, credit)
    assert response.status_code == 302
    assert (await staff.post(url, credit)).status_code == 302  # submitted twice: moved once
    assert await wallet.balance(alice, "USD") == 2000
    debit = {"direction": "debit", "amount": "5", "currency": "USD", "reason": "Fee", "key": "k2"}
    assert (await staff.post(url, debit)).status_code == 302
    assert await assert_ledger_matches(alice) == 1500
    entries = await WalletTransaction.filter(kind="adjustment").order_by("id")
    assert [(e.amount_minor, e.description, e.actor_id) for e in entries] == [
        (2000, "Goodwill", billing.id),
        (-500, "Fee", billing.id),
    ]
    audits = await AuditLog.filter(action="wallet.adjust").order_by("id")
    assert [(a.actor_id, a.target_id, a.reason, a.after["amount_minor"]) for a in audits] == [
        (billing.id, alice.code, "Goodwill", 2000),
        (billing.id, alice.code, "Fee", -500),
    ]

    too_much = await staff.post(url, {**debit, "amount": "100", "key": "k3"})
    assert too_much.status_code == 400
    assert "The wallet holds only $15.00" in await text(too_much)
    no_reason = await staff.post(url, {**credit, "reason": " ", "key": "k4"})
    assert no_reason.status_code == 400 and "Say why" in await text(no_reason)
    assert await assert_ledger_matches(alice) == 1500
    assert await AuditLog.filter(action="wallet.adjust").count() == 2
    assert (await staff.get("/admin/users/nosuchcode/wallet")).status_code == 404


async def test_customers_and_staff_without_the_permission_cannot_adjust(
    alice, alice_client, bob_client
):
    url = f"/admin/users/{alice.code}/wallet"
    form = {"direction": "credit", "amount": "20", "currency": "USD", "reason": "Me", "key": "x"}
    for browser in (alice_client, bob_client):
        assert (await browser.get(url)).status_code == 403
        assert (await browser.post(url, form)).status_code == 403
    assert await WalletTransaction.all().count() == 0
    assert await AuditLog.filter(action="wallet.adjust").count() == 0


# -- refunds that are not wallet top-ups ----------------------------------------------------------


async def _invoice_paid_with_paypal(user, fake: FakePayPal):
    """An invoice paid with PayPal directly (no wallet): order, capture and payment row."""
    await seed.seed_demo()
    package = await Package.get(slug="starter")
    company = await ServiceBeneficiary.filter(owner=user).first()
    quote = await pricing.quote(package, "monthly", "USD", user=user, beneficiary=company)
    invoice = await invoices.issue(user, quote, beneficiary=company, paid=True)
    async with paypal.PayPal(settings.get_settings().paypal) as gateway:
        order = await gateway.create_order(
            reference="invoicepay01",
            amount_minor=invoice.total_minor,
            currency="USD",
            description="Invoice",
            return_url="http://127.0.0.1:5000/r",
            cancel_url="http://127.0.0.1:5000/c",
        )
    capture_id = fake.capture_now(order.id)
    payment = await Payment.create(
        code="invoicepay01",
        user=user,
        invoice=invoice,
        gateway="paypal",
        gateway_order_id=order.id,
        gateway_capture_id=capture_id,
        amount_minor=invoice.total_minor,
        currency="USD",
        status=PaymentStatus.CAPTURED,
    )
    return invoice, payment


async def test_paypals_word_on_a_staff_refund_of_an_invoice_leaves_the_wallet_alone(
    app, alice, fake_paypal
):
    invoice, payment = await _invoice_paid_with_paypal(alice, fake_paypal)
    made = await refunds.refund(invoice, 1000, refunds.PAYPAL, "Sorry", None, key="staff-1")
    assert made.status == RefundStatus.SUCCEEDED and made.gateway_refund_id
    completed = fake_paypal.capture_event(payment.gateway_capture_id)
    refunded = fake_paypal.refund_event(made.gateway_refund_id)
    for event in (completed, refunded):
        assert (await deliver(app, fake_paypal, event)).status_code == 200
    assert await WalletTransaction.all().count() == 0  # the invoice's money, not a top-up
    assert await Refund.all().count() == 1
    assert (await Refund.get(id=made.id)).status == RefundStatus.SUCCEEDED
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REFUNDED


async def test_an_invoice_refunded_at_paypal_behind_our_back_is_flagged(app, alice, fake_paypal):
    _, payment = await _invoice_paid_with_paypal(alice, fake_paypal)
    refunded = fake_paypal.refund_event(fake_paypal.refund_now(payment.gateway_capture_id, 700))
    response = await deliver(app, fake_paypal, refunded)
    assert response.status_code == 200
    assert await WalletTransaction.all().count() == 0 and await Refund.all().count() == 0
    flag = await AuditLog.get(action="payment.refund_unmatched")
    assert flag.target_id == payment.code and flag.after["amount_minor"] == 700
    assert (await Payment.get(id=payment.id)).status == PaymentStatus.REFUNDED
