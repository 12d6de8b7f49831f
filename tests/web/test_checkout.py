"""Checkout: the live price summary, and trials or paid launches written all at once or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely.models.billing import Invoice, WalletTransaction
from managely.models.catalog import PromoCode, PromoKind
from managely.models.launches import Launch
from managely.models.operations import SaaSOperation
from managely.models.servers import Server, ServerStatus
from managely.models.subscriptions import Subscription
from managely.services import seed, servers, wallet
from tests.support import text


@pytest.fixture
async def shop(database, tmp_path):
    await seed.seed_demo()
    server = await servers.add_server(
        name="shop-host", host="127.0.0.1", driver="local", root=str(tmp_path), capacity=5
    )
    await Server.filter(id=server.id).update(status=ServerStatus.ACTIVE)


async def _counts() -> dict[str, int]:
    return {
        "launches": await Launch.all().count(),
        "subscriptions": await Subscription.all().count(),
        "invoices": await Invoice.all().count(),
        "ledger": await WalletTransaction.all().count(),
        "operations": await SaaSOperation.all().count(),
        "slots": (await Server.get(name="shop-host")).sites_count,
    }


ORDER = {"mode": "paid", "package": "starter", "period": "monthly", "currency": "USD"}


async def test_the_price_summary_follows_the_choices(client, shop):
    page = await text(await client.get("/get_pricing?package=business&period=yearly&currency=USD"))
    assert 'id="price-summary"' in page and "Total" in page
    answer = await (
        await client.get(
            "/get_pricing?package=business&period=monthly&currency=USD&addons=crm",
            headers={"Accept": "application/json"},
        )
    ).get_json()
    kinds = [line["kind"] for line in answer["lines"]]
    assert kinds[0] == "base" and "addon" in kinds and "setup_fee" in kinds
    assert answer["total_minor"] == sum(line["amount_minor"] for line in answer["lines"])
    assert answer["total_minor"] == 7900 + 1500 + 4900


async def test_a_bad_promo_code_is_explained_in_the_summary(client, shop):
    response = await client.get(
        "/get_pricing?package=starter&promo_code=NOPE", headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    error = (await response.get_json())["error"]
    assert error["field"] == "promo_code" and "does not exist" in error["message"]


async def test_a_paid_launch_charges_the_wallet_and_writes_everything_once(
    alice_client, alice, shop
):
    await wallet.post(alice, "USD", 10_000, "recharge", "test:topup")
    form = {**ORDER, "subdomain": "acme-paid", "order_key": "order-key-1"}
    response = await alice_client.post("/create_system", form)
    assert response.status_code == 302 and response.headers["Location"].startswith("/operations/")
    assert await wallet.balance(alice, "USD") == 10_000 - 2_900
    launch = await Launch.get(subdomain="acme-paid").prefetch_related("subscription")
    assert not launch.is_trial and launch.subscription.status == "active"
    invoice = await Invoice.get(subscription_id=launch.subscription.id).prefetch_related("lines")
    assert invoice.number.startswith(f"INV-{datetime.now(UTC).year}-") and invoice.status == "paid"
    assert invoice.total_minor == 2_900 == sum(line.amount_minor for line in invoice.lines)
    charge = await WalletTransaction.get(idempotency_key="order:order-key-1")
    assert charge.reference == invoice.number

    # The same form sent again (a double click, a reload) places no second order.
    before = await _counts()
    again = await alice_client.post("/create_system", form)
    assert again.headers["Location"] == response.headers["Location"]
    assert await _counts() == before


async def test_an_empty_wallet_offers_a_top_up_and_writes_nothing(alice_client, shop):
    before = await _counts()
    response = await alice_client.post(
        "/create_system", {**ORDER, "subdomain": "acme-broke", "order_key": "k2"}
    )
    page = await text(response)
    assert response.status_code == 402
    assert "Your wallet balance is too low for this purchase." in page
    assert 'href="/panel/wallet?currency=USD&amp;amount=29.00&amp;next=' in page
    assert await _counts() == before


async def test_an_expired_promo_code_is_refused_and_writes_nothing(alice_client, alice, shop):
    await wallet.post(alice, "USD", 10_000, "recharge", "test:topup-2")
    await PromoCode.create(
        code="OLD10",
        kind=PromoKind.PERCENT,
        value=1000,
        expires_at=datetime.now(UTC) - timedelta(days=1),
    )
    before = await _counts()
    response = await alice_client.post(
        "/create_system",
        {**ORDER, "subdomain": "acme-promo", "promo_code": "old10", "order_key": "k3"},
    )
    assert response.status_code == 400
    assert "This promo code has expired." in await text(response)
    assert await _counts() == before


async def test_a_promo_code_discounts_the_order_and_is_redeemed(alice_client, alice, shop):
    await wallet.post(alice, "USD", 10_000, "recharge", "test:topup-3")
    promo = await PromoCode.create(code="HALF", kind=PromoKind.PERCENT, value=5000, max_uses=1)
    response = await alice_client.post(
        "/create_system",
        {**ORDER, "subdomain": "acme-half", "promo_code": "half", "order_key": "k4"},
    )
    assert response.status_code == 302
    assert await wallet.balance(alice, "USD") == 10_000 - 1_450
    await promo.refresh_from_db()
    assert promo.uses_count == 1


async def test_a_trial_needs_no_money_and_a_taken_name_is_refused(
    alice_client, charlie_client, shop
):
    for browser in (alice_client, charlie_client):
        await browser.get("/panel/systems/new")  # each browser gets its own device id
    response = await alice_client.post(
        "/create_system", {"mode": "trial", "package": "starter", "subdomain": "acme-trial"}
    )
    assert response.status_code == 302
    launch = await Launch.get(subdomain="acme-trial").prefetch_related("subscription")
    assert launch.is_trial and launch.subscription.status == "trial"
    taken = await charlie_client.post(
        "/create_system", {"mode": "trial", "package": "starter", "subdomain": "acme-trial"}
    )
    assert taken.status_code == 409 and "This name is taken" in await text(taken)
    bad = await charlie_client.post(
        "/create_system", {"mode": "trial", "package": "starter", "subdomain": "a;b"}
    )
    assert bad.status_code == 400 and "Use 3 to 32 letters" in await text(bad)


async def test_the_order_form_shows_the_packages_and_a_live_price(alice_client, shop):
    page = await text(await alice_client.get("/panel/systems/new?package=business&mode=paid"))
    assert 'hx-get="/get_pricing"' in page and 'name="order_key"' in page
    assert '<option value="business" selected>' in page
    assert 'value="crm"' in page, "the package's add-ons are offered"
    assert 'id="price-summary"' in page


async def test_a_second_trial_is_refused_with_a_reason_and_writes_nothing(alice_client, shop):
    await alice_client.get("/panel/systems/new")
    first = await alice_client.post(
        "/create_system", {"mode": "trial", "package": "starter", "subdomain": "acme-one"}
    )
    assert first.status_code == 302
    before = await _counts()
    second = await alice_client.post(
        "/create_system", {"mode": "trial", "package": "business", "subdomain": "acme-two"}
    )
    assert second.status_code == 403
    assert "already had a free trial" in await text(second)
    assert await _counts() == before


async def test_a_trial_from_a_denied_country_is_refused_in_both_languages(
    alice_client, shop, tmp_path, monkeypatch
):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    from managely import settings
    from managely.services import trial_guard
    from tests.support import arabic

    path = tmp_path / "countries.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    writer.to_db_file(str(path))
    monkeypatch.setenv("MANAGELY_GEOIP_DB", str(path))
    settings.reset()
    try:
        await trial_guard.add_rule("FR", "deny", "trial")
        await alice_client.get("/panel/systems/new")
        before = await _counts()
        form = {"mode": "trial", "package": "starter", "subdomain": "acme-fr"}
        from_france = {"scope_base": {"client": ("203.0.113.9", 40000)}}
        refused = await alice_client.post("/create_system", form, **from_france)
        assert refused.status_code == 403
        assert "Free trials are not available in your country." in await text(refused)
        in_arabic = await alice_client.post(
            "/create_system", form, headers={"Accept-Language": "ar"}, **from_france
        )
        assert arabic("Free trials are not available in your country.") in await text(in_arabic)
        assert await _counts() == before
        elsewhere = await alice_client.post(
            "/create_system", form, scope_base={"client": ("198.51.100.7", 40000)}
        )
        assert elsewhere.status_code == 302, "the same customer may start it from elsewhere"
    finally:
        monkeypatch.delenv("MANAGELY_GEOIP_DB")
        settings.reset()


async def test_a_second_trial_from_the_same_device_is_refused(alice_client, charlie_client, shop):
    await alice_client.get("/panel/systems/new")
    assert (
        await alice_client.post(
            "/create_system", {"mode": "trial", "package": "starter", "subdomain": "acme-dev1"}
        )
    ).status_code == 302
    device = alice_client.client.cookie_jar  # the device id alice's browser was given
    cookie = next(c for c in device if c.name == "managely_device")
    charlie_client.client.set_cookie("localhost", "managely_device", cookie.value)
    before = await _counts()
    refused = await charlie_client.post(
        "/create_system", {"mode": "trial", "package": "starter", "subdomain": "acme-dev2"}
    )
    assert refused.status_code == 403
    assert "already been started from this device" in await text(refused)
    assert await _counts() == before
