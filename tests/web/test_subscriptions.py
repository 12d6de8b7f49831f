"""Subscription pages and the billing API: the owner gets them, an outsider gets 404 on every
route, staff without ``billing.adjust`` get 403."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from managely import settings
from managely.models.billing import WalletTransaction
from managely.models.launches import Launch
from managely.models.subscriptions import Subscription, SubscriptionStatus
from managely.services import wallet
from managely.web import create_app
from tests.conftest import PASSWORD, make_user
from tests.subscriptions_support import (
    DAY,
    fund,
    make_catalog,
    make_server,
    make_subscription,
)
from tests.support import Browser, text

HTMX = {"HX-Request": "true"}


@pytest.fixture
async def app(database):
    """The app, over a database with the subscription tests' catalog."""
    await make_catalog()
    return create_app(settings.get_settings())


@pytest.fixture
async def trial(app, alice, tmp_path):
    server = await make_server(tmp_path / "root")
    sub = await make_subscription(alice, status=SubscriptionStatus.TRIAL, server=server)
    return sub, await Launch.get(subscription=sub)


async def test_an_outsider_gets_404_on_every_subscription_route(app, alice, charlie_client, trial):
    sub = await make_subscription(alice)
    _, launch = trial
    gets = [f"/subscriptions/{sub.code}", f"/subscriptions/{sub.code}/change?package=pro"]
    posts = {
        f"/subscriptions/{sub.code}/cancel": {},
        f"/subscriptions/{sub.code}/reactivate": {},
        f"/subscriptions/{sub.code}/change": {"package": "pro", "period": "monthly"},
        "/create_subscription": {"launch": launch.code},
    }
    for url in gets:
        assert (await charlie_client.get(url)).status_code == 404, url
    for url, form in posts.items():
        assert (await charlie_client.post(url, form)).status_code == 404, url
    await sub.refresh_from_db()
    assert sub.cancel_at_period_end is False and sub.package_id == (await sub.package).id
    assert (await Subscription.get(id=trial[0].id)).status == SubscriptionStatus.TRIAL
    listing = await text(await charlie_client.get("/subscriptions"))
    assert sub.code not in listing


async def test_anonymous_visitors_are_sent_to_sign_in(app, client):
    for url in ("/subscriptions", "/subscriptions/abc/change"):
        response = await client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


async def test_the_owner_lists_and_opens_a_subscription(app, alice, alice_client):
    sub = await make_subscription(alice)
    listing = await text(await alice_client.get("/subscriptions"))
    assert f"/subscriptions/{sub.code}" in listing and "Basic" in listing
    page = await alice_client.get(f"/subscriptions/{sub.code}")
    body = await text(page)
    assert page.status_code == 200 and "Change plan" in body and "style=" not in body


async def test_the_change_form_previews_the_prorated_price_then_changes(app, alice, alice_client):
    await fund(alice, 100_000)
    sub = await make_subscription(alice, start=_today() - 10 * DAY)
    preview = await alice_client.get(
        f"/subscriptions/{sub.code}/change?package=pro&period=monthly", headers=HTMX
    )
    body = await text(preview)
    assert preview.status_code == 200 and body.lstrip().startswith('<div id="change-preview"')
    total = int(body.split('data-total="')[1].split('"')[0])
    assert 0 < total < 10_000
    page = await text(await alice_client.get(f"/subscriptions/{sub.code}/change"))
    assert "Choose another package" in page
    done = await alice_client.post(
        f"/subscriptions/{sub.code}/change", {"package": "pro", "period": "monthly", "key": "x1"}
    )
    assert done.status_code == 302
    await sub.refresh_from_db()
    assert sub.price_minor == 20_000
    assert await wallet.balance(alice, "USD") == 100_000 - total


async def test_cancel_and_reactivate(app, alice, alice_client):
    sub = await make_subscription(alice, start=_today() - DAY)
    assert (await alice_client.post(f"/subscriptions/{sub.code}/cancel")).status_code == 302
    await sub.refresh_from_db()
    assert sub.cancel_at_period_end is True
    again = await alice_client.post(f"/subscriptions/{sub.code}/cancel")
    assert again.status_code == 409 and "cannot be cancelled" in await text(again)
    assert (await alice_client.post(f"/subscriptions/{sub.code}/reactivate")).status_code == 302
    await sub.refresh_from_db()
    assert sub.cancel_at_period_end is False


async def test_paying_a_trial_from_its_page(app, alice, alice_client, trial):
    sub, launch = trial
    short = await alice_client.post("/create_subscription", {"launch": launch.code})
    body = await text(short)
    assert short.status_code == 402 and "Top up my wallet" in body
    await fund(alice, 10_000)
    paid = await alice_client.post("/create_subscription", {"launch": launch.code})
    assert paid.status_code == 302 and paid.headers["Location"] == f"/subscriptions/{sub.code}"
    await sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.ACTIVE
    assert await WalletTransaction.exists(idempotency_key=f"activate:{sub.code}")


@pytest.mark.parametrize(
    ("role", "status"), [("billing", 200), ("support", 403), ("customer", 403)]
)
async def test_the_renewal_api_needs_billing_adjust(app, alice, role, status):
    await fund(alice, 50_000)
    sub = await make_subscription(alice, start=_today() - 40 * DAY)
    user = await make_user(f"{role}@staff.example.com", role)
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    response = await browser.post("/api/auto_renew_subscriptions")
    assert response.status_code == status
    if status == 200:
        counts = (await response.get_json())["counts"]
        assert counts["renewed"] == 1 and counts["failed"] == 0
        await sub.refresh_from_db()
        assert sub.current_period_end > _today()
    missing_csrf = await browser.post("/api/auto_renew_subscriptions", csrf=False)
    assert missing_csrf.status_code == 400


def _today() -> datetime:
    return datetime.now(UTC)


async def test_automatic_renewal_can_be_turned_off_and_on(app, alice, alice_client, charlie_client):
    sub = await make_subscription(alice, start=_today() - DAY)
    assert sub.auto_renew
    off = await alice_client.post(f"/subscriptions/{sub.code}/auto_renew", {"on": "0"})
    assert off.status_code == 302
    await sub.refresh_from_db()
    assert sub.auto_renew is False
    page = await text(await alice_client.get(f"/subscriptions/{sub.code}"))
    assert "Renew automatically from my wallet" in page
    outsider = await charlie_client.post(f"/subscriptions/{sub.code}/auto_renew", {"on": "1"})
    assert outsider.status_code == 404
    await sub.refresh_from_db()
    assert sub.auto_renew is False
    assert (
        await alice_client.post(f"/subscriptions/{sub.code}/auto_renew", {"on": "1"})
    ).status_code == 302
    await sub.refresh_from_db()
    assert sub.auto_renew is True


def _period_end(page: str) -> str:
    return page.split('name="period_end" value="')[1].split('"')[0]


async def test_renew_now_pays_the_next_period_once_even_when_clicked_twice(
    app, alice, alice_client, run_jobs
):
    from managely.models.billing import Invoice
    from managely.services import renewals

    await fund(alice, 25_000)
    sub = await make_subscription(alice, start=_today() - 10 * DAY)
    old_end = sub.current_period_end
    page = await text(await alice_client.get(f"/subscriptions/{sub.code}"))
    form = {"period_end": _period_end(page)}
    first = await alice_client.post(f"/subscriptions/{sub.code}/renew", form)
    again = await alice_client.post(f"/subscriptions/{sub.code}/renew", form)
    assert first.status_code == again.status_code == 302
    await run_jobs()
    await sub.refresh_from_db()
    assert sub.current_period_start == old_end and sub.current_period_end > old_end
    assert await wallet.balance(alice, "USD") == 15_000
    key = f"renew:{sub.code}:{old_end.astimezone(UTC).isoformat()}"
    assert await WalletTransaction.filter(idempotency_key=key).count() == 1
    assert await Invoice.filter(user=alice).count() == 1
    # The clock at the old period's end finds nothing due: the period was paid early.
    counts = await renewals.run_renewals(old_end + DAY)
    assert counts["renewed"] == 0 and await wallet.balance(alice, "USD") == 15_000


async def test_renew_now_with_a_short_wallet_says_so_and_changes_nothing(app, alice, alice_client):
    await fund(alice, 3_000)
    sub = await make_subscription(alice, start=_today() - 10 * DAY)
    page = await text(await alice_client.get(f"/subscriptions/{sub.code}"))
    short = await alice_client.post(
        f"/subscriptions/{sub.code}/renew", {"period_end": _period_end(page)}
    )
    body = await text(short)
    assert short.status_code == 402 and "Your wallet balance is too low" in body
    end = sub.current_period_end
    await sub.refresh_from_db()
    assert sub.current_period_end == end and await wallet.balance(alice, "USD") == 3_000
    stale = await alice_client.post(f"/subscriptions/{sub.code}/renew", {"period_end": "x"})
    assert stale.status_code == 400 and "out of date" in await text(stale)
