"""Referrals over HTTP: first-touch capture on public pages, crediting the referrer at signup,
the referral page and withdrawals to the wallet, each customer seeing only their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely.models.accounts import User
from managely.models.billing import WalletTransaction
from managely.models.referrals import ReferralBalance
from managely.services import referrals, wallet
from tests.conftest import PASSWORD, make_user
from tests.support import text

SIGNUP = {
    "name": "Dana Buyer",
    "email": "dana@example.com",
    "password": PASSWORD,
    "company": "Dana Trading",
}
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def ref_cookie(browser) -> str | None:
    found = [c.value for c in browser.client.cookie_jar if c.name == referrals.COOKIE]
    return found[0] if found else None


def sets_ref_cookie(response) -> bool:
    return any(referrals.COOKIE in h for h in response.headers.getlist("Set-Cookie"))


async def available_commission(referrer: User, amount: int = 10_000) -> None:
    """Dana, referred by ``referrer``, paid ``amount``; the commission has matured."""
    link = await referrals.link_for(referrer)
    dana = await make_user("dana@example.com")
    await referrals.link_signup(dana, referrals.touch_cookie(link.code, NOW), NOW)
    await referrals.on_payment_captured(dana, amount, "USD", "pay-1", NOW)
    await referrals.mature(NOW + timedelta(days=30))


async def test_a_referral_link_sets_the_first_touch_and_a_later_one_does_not_replace_it(
    app, alice, charlie, client
):
    first = (await referrals.link_for(alice)).code
    response = await client.get(f"/?ref={first}")
    assert response.status_code == 200 and sets_ref_cookie(response)
    header = next(h for h in response.headers.getlist("Set-Cookie") if referrals.COOKIE in h)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Max-Age=2592000" in header
    value = ref_cookie(client)
    assert referrals.touched_code(value, datetime.now(UTC), 30) == first

    second = (await referrals.link_for(charlie)).code
    response = await client.get(f"/about?ref={second}")
    assert response.status_code == 200 and not sets_ref_cookie(response)
    assert ref_cookie(client) == value


async def test_an_unknown_code_or_a_plain_visit_sets_nothing(app, client):
    assert not sets_ref_cookie(await client.get("/?ref=nosuchcode"))
    assert not sets_ref_cookie(await client.get("/"))


async def test_signing_up_after_following_a_link_credits_the_referrer(app, alice, client, run_jobs):
    await client.get(f"/?ref={(await referrals.link_for(alice)).code}")
    response = await client.post("/signup", SIGNUP)
    assert response.status_code == 302
    await run_jobs()
    dana = await User.get(email=SIGNUP["email"])
    assert dana.referred_by_id == alice.id
    assert (await referrals.link_for(alice)).signups == 1


async def test_a_first_touch_past_its_window_credits_nobody(app, alice, client, run_jobs):
    code = (await referrals.link_for(alice)).code
    old = referrals.touch_cookie(code, datetime.now(UTC) - timedelta(days=31))
    client.client.set_cookie("localhost", referrals.COOKIE, old)
    assert ref_cookie(client) == old
    response = await client.post("/signup", SIGNUP)
    assert response.status_code == 302
    await run_jobs()
    assert (await User.get(email=SIGNUP["email"])).referred_by_id is None


async def test_a_signed_in_customer_opening_their_own_link_gets_no_cookie(app, alice, alice_client):
    response = await alice_client.get(f"/?ref={(await referrals.link_for(alice)).code}")
    assert response.status_code == 200 and not sets_ref_cookie(response)


async def test_the_page_shows_the_link_balances_and_ledger(app, alice, alice_client):
    await available_commission(alice)
    response = await alice_client.get("/panel/referrals")
    page = await text(response)
    assert response.status_code == 200
    link = await referrals.link_for(alice)
    assert f"http://127.0.0.1:5000/?ref={link.code}" in page
    assert "Customers referred" in page and "$10.00" in page
    assert "Commission released" in page and "Commission on a payment" in page
    assert 'name="key"' in page and 'value="10.00"' in page


async def test_withdrawing_moves_the_money_to_the_wallet_once(app, alice, alice_client):
    await available_commission(alice)
    form = {"amount": "6.00", "currency": "USD", "key": "web-key-0001"}
    for _ in range(2):  # the same form sent twice
        response = await alice_client.post("/panel/referrals/withdraw", form)
        assert response.status_code == 302
        assert response.headers["Location"] == "/panel/referrals?currency=USD"
    assert await wallet.balance(alice, "USD") == 600
    row = await ReferralBalance.get(user=alice, currency="USD")
    assert row.available_minor == 400
    assert await referrals.ledger_totals(alice, "USD") == (0, 400)
    page = await text(await alice_client.get("/panel/referrals"))
    assert "$6.00 moved to your wallet." in page and "Moved to your wallet" in page


async def test_an_htmx_withdrawal_answers_with_the_refreshed_account(app, alice, alice_client):
    await available_commission(alice)
    response = await alice_client.post(
        "/panel/referrals/withdraw",
        {"amount": "٢٫٥٠", "currency": "USD", "key": "web-key-0002"},
        headers={"HX-Request": "true"},
    )
    fragment = await text(response)
    assert response.status_code == 200 and "<html" not in fragment
    assert 'id="referral-account"' in fragment and "$2.50 moved to your wallet." in fragment
    assert await wallet.balance(alice, "USD") == 250


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("10.01", "You cannot withdraw more than your available commissions."),
        ("abc", "Enter an amount such as 25.00."),
        ("1.005", "Enter an amount such as 25.00."),
        ("0", "Enter an amount to withdraw."),
    ],
)
async def test_a_refused_withdrawal_shows_why_and_writes_nothing(
    app, alice, alice_client, amount, message
):
    await available_commission(alice)
    response = await alice_client.post(
        "/panel/referrals/withdraw", {"amount": amount, "currency": "USD", "key": "web-key-0003"}
    )
    assert response.status_code == 400
    assert message in await text(response)
    assert not await WalletTransaction.exists()
    assert (await ReferralBalance.get(user=alice, currency="USD")).available_minor == 1_000


async def test_an_outsider_sees_only_their_own_and_cannot_withdraw_anothers(
    app, alice, charlie_client
):
    await available_commission(alice)
    alice_code = (await referrals.link_for(alice)).code
    page = await text(await charlie_client.get("/panel/referrals"))
    assert alice_code not in page and "$10.00" not in page
    charlie = await User.get(email="charlie@example.com")
    assert (await referrals.link_for(charlie)).code in page
    response = await charlie_client.post(
        "/panel/referrals/withdraw", {"amount": "5.00", "currency": "USD", "key": "web-key-0004"}
    )
    assert response.status_code == 400
    assert (await ReferralBalance.get(user=alice, currency="USD")).available_minor == 1_000
    assert not await WalletTransaction.exists()


async def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    for response in (
        await client.get("/panel/referrals"),
        await client.post("/panel/referrals/withdraw", {"amount": "1"}),
    ):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
