"""The catalog on the front page: packages, prices per currency and period, comparison, FAQ."""

from __future__ import annotations

from managely.models.catalog import Package, PackagePeriod
from managely.services import catalog, seed
from tests.support import arabic, text


async def test_the_front_page_lists_every_package_with_its_price(client):
    await seed.seed_demo()
    page = await text(await client.get("/"))
    for name in ("Starter", "Business", "Enterprise"):
        assert name in page
    assert "$29.00" in page and "$79.00" in page and "$199.00" in page  # monthly, USD
    assert "Compare packages" in page and "Users included" in page
    assert "What happens when my trial ends?" in page
    assert "14-day free trial" in page
    assert (
        'href="/panel/systems/new?package=starter&amp;period=monthly&amp;currency=USD&amp;mode=trial"'
        in page
    )


async def test_the_currency_and_period_switchers_change_the_prices(client):
    await seed.seed_demo()
    page = await text(await client.get("/?currency=SAR&period=yearly"))
    yearly_sar = await PackagePeriod.get(package__slug="starter", period="yearly", currency="SAR")
    assert f"SAR{yearly_sar.price_minor // 100:,}.00" in page.replace("\xa0", "")
    assert '<option value="SAR" selected>' in page
    assert '<option value="yearly" selected>' in page


async def test_an_htmx_switch_gets_the_catalog_alone(client):
    await seed.seed_demo()
    response = await client.get(
        "/?currency=EUR", headers={"HX-Request": "true", "HX-Target": "catalog"}
    )
    fragment = await text(response)
    assert fragment.lstrip().startswith('<div id="catalog"') and "<html" not in fragment
    assert "€" in fragment


async def test_an_unknown_currency_or_period_falls_back_to_the_defaults(client):
    await seed.seed_demo()
    page = await text(await client.get("/?currency=XXX&period=weekly"))
    assert '<option value="USD" selected>' in page
    assert '<option value="monthly" selected>' in page


async def test_the_catalog_is_in_arabic_with_arabic_names(client):
    await seed.seed_demo()
    page = await text(await client.get("/", headers={"Accept-Language": "ar"}))
    assert "المبتدئ" in page and "الأعمال" in page
    assert arabic("Compare packages") in page


async def test_a_catalog_change_shows_once_the_snapshot_is_invalidated(client):
    await seed.seed_demo()
    assert "$29.00" in await text(await client.get("/"))
    await PackagePeriod.filter(package__slug="starter", period="monthly", currency="USD").update(
        price_minor=3100
    )
    assert "$29.00" in await text(await client.get("/")), "served from the snapshot"
    catalog.invalidate()
    assert "$31.00" in await text(await client.get("/"))


async def test_hidden_and_inactive_packages_are_not_listed(client):
    await seed.seed_demo()
    await Package.filter(slug="enterprise").update(is_public=False)
    await Package.filter(slug="business").update(is_active=False)
    catalog.invalidate()
    page = await text(await client.get("/"))
    assert "Starter" in page and "Enterprise" not in page and "Business" not in page
