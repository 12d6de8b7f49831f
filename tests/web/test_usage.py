"""The usage charts page and the dashboard's summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from managely.models.billing import Invoice, InvoiceStatus, Wallet
from managely.models.launches import UsageSample
from managely.models.platform import Announcement
from managely.models.support import SupportTicket, TicketStatus
from tests.support import text
from tests.web.routes import make_invoice, make_launch

SVG = "{http://www.w3.org/2000/svg}"


async def _with_samples(owner):
    launch, _ = await make_launch(owner)
    now = datetime.now(UTC)
    for hours, users in ((1, 2), (30, 4), (24 * 20, 7)):
        await UsageSample.create(
            launch=launch,
            sampled_at=now - timedelta(hours=hours),
            cpu_pct=12.5,
            mem_bytes=200 * 1024**2,
            disk_bytes=50 * 1024**2,
            db_bytes=20 * 1024**2,
            active_users=users,
        )
    return launch


@pytest.mark.parametrize(("window", "peak"), [("24h", "2"), ("7d", "4"), ("30d", "7")])
async def test_the_owner_gets_five_charts_for_each_window(alice, alice_client, window, peak):
    launch = await _with_samples(alice)
    response = await alice_client.get(f"/panel/systems/{launch.code}/usage?window={window}")
    assert response.status_code == 200
    page = await text(response)
    assert page.count("<svg") == 5
    assert 'role="img"' in page and "shared ERP server" in page
    assert f"highest {peak} ·" in page  # the active users chart's caption
    assert 'aria-current="page"' in page


async def test_the_window_switcher_swaps_only_the_charts(alice, alice_client):
    launch = await _with_samples(alice)
    response = await alice_client.get(
        f"/panel/systems/{launch.code}/usage?window=7d", headers={"HX-Request": "true"}
    )
    fragment = await text(response)
    assert "<html" not in fragment and 'id="usage-charts"' in fragment
    svgs = fragment.split("<svg")[1:]
    assert len(svgs) == 5
    for chunk in svgs:
        ET.fromstring("<svg" + chunk.split("</svg>")[0] + "</svg>")  # noqa: S314 - our own SVG
    assert "HX-Request" in response.headers["Vary"]


async def test_an_unknown_window_shows_the_last_day(alice, alice_client):
    launch = await _with_samples(alice)
    page = await text(await alice_client.get(f"/panel/systems/{launch.code}/usage?window=9y"))
    assert "Last 24 hours" in page and page.count("<svg") == 5


async def test_it_rejects_a_foreign_systems_usage(alice, charlie_client):
    launch = await _with_samples(alice)
    response = await charlie_client.get(f"/panel/systems/{launch.code}/usage")
    assert response.status_code == 404


async def test_anonymous_visitors_sign_in_first(alice, client):
    launch = await _with_samples(alice)
    response = await client.get(f"/panel/systems/{launch.code}/usage")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


async def test_charts_in_arabic_use_arabic_digits(alice, alice_client):
    alice.locale, alice.arabic_digits = "ar", True
    await alice.save()
    launch = await _with_samples(alice)
    page = await text(await alice_client.get(f"/panel/systems/{launch.code}/usage?window=30d"))
    assert "١٢٫٥٪" in page  # CPU, formatted by the i18n filters


async def _dashboard_rows(owner):
    now = datetime.now(UTC)
    await Wallet.create(user=owner, currency="USD", balance_minor=12_345)
    invoice = await make_invoice(owner)
    await Invoice.filter(id=invoice.id).update(status=InvoiceStatus.OPEN, total_minor=4_200)
    await SupportTicket.create(user=owner, subject="Help", status=TicketStatus.PENDING_STAFF)
    await SupportTicket.create(user=owner, subject="Old", status=TicketStatus.CLOSED)
    return invoice, now


async def test_the_dashboard_sums_up_money_tickets_and_news(alice, alice_client):
    invoice, now = await _dashboard_rows(alice)
    await Announcement.create(title_en="Maintenance on Sunday", title_ar="صيانة")
    await Announcement.create(title_en="Expired news", title_ar="قديم", ends_at=now)
    await Announcement.create(title_en="Switched off", title_ar="معطل", is_active=False)
    await make_launch(alice)
    page = await text(await alice_client.get("/panel/"))
    assert "$123.45" in page
    assert invoice.number in page and "$42.00" in page
    assert 'id="open-tickets">1<' in page
    assert "Maintenance on Sunday" in page
    assert "Expired news" not in page and "Switched off" not in page
    assert 'hx-trigger="every 10s"' in page


async def test_the_dashboard_shows_no_one_elses_rows(alice, charlie_client):
    invoice, _ = await _dashboard_rows(alice)
    page = await text(await charlie_client.get("/panel/"))
    assert "$123.45" not in page and invoice.number not in page
    assert 'id="open-tickets">0<' in page


async def test_the_status_partial_lists_only_the_users_systems(alice, charlie, alice_client):
    mine, _ = await make_launch(alice)
    theirs, _ = await make_launch(charlie)
    response = await alice_client.get("/panel/systems/status", headers={"HX-Request": "true"})
    fragment = await text(response)
    assert mine.subdomain in fragment and theirs.subdomain not in fragment
    assert "<html" not in fragment
