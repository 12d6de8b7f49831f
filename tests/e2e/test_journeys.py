"""The product in a real browser, in English and in Arabic.

A new visitor signs up, verifies the emailed code, starts a trial and watches its progress bar
reach 100 %, opens the system and reveals its login, tops up the wallet through PayPal (the
local fake), buys a package and opens a ticket. Then staff answer the ticket, refund an invoice
and retry a failed operation. Every main page is checked for its language and direction, for
nothing overflowing the viewport, and saved as a screenshot under var/e2e-artifacts/<lang>/.

Selectors name forms by their action and fields by their name, never by visible text, so one
journey serves both languages.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time

import pytest
from tests.e2e.conftest import ARTIFACTS, STAFF_EMAIL, STAFF_PASSWORD

PASSWORD = "e2e-horse-battery-7"
TIMEOUT_MS = 30_000
PROGRESS_MS = 120_000  # a trial deploys a real Tryton site
# Visible boxes wider than the viewport, or starting before it: in RTL a wrong physical margin
# pushes content off the left edge. Screen-reader-only text is clipped on purpose.
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.documentElement.scrollWidth > width + 1) out.push('page scrolls sideways');
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || style.position === 'fixed') continue;
    if (style.clip !== 'auto' || style.clipPath !== 'none') continue;
    if (el.closest('[hidden], .visually-hidden, .sr-only, details:not([open])')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right > width + 1 || box.left < -1) {
      out.push(`${el.tagName.toLowerCase()}.${el.className} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
  }
  return out.slice(0, 5);
}
"""


async def check_page(page, lang: str, name: str) -> None:
    """Language, direction and layout of the page showing now; then its screenshot."""
    await page.wait_for_load_state("networkidle")
    html = page.locator("html")
    assert await html.get_attribute("lang") == lang, name
    assert await html.get_attribute("dir") == ("rtl" if lang == "ar" else "ltr"), name
    overflowing = await page.evaluate(OVERFLOW_JS)
    assert not overflowing, f"{lang} {name}: {overflowing}"
    # Domains, codes and amounts typed in Latin script stay left-to-right islands in Arabic.
    for island in await page.locator("[dir=ltr], .ltr").all():
        if await island.is_visible():
            direction = await island.evaluate("el => getComputedStyle(el).direction")
            assert direction == "ltr", f"{lang} {name}: {await island.inner_text()}"
    target = ARTIFACTS / lang / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target), full_page=True)


async def submit(page, action: str, fields: dict[str, str]) -> None:
    form = page.locator(f"form[action^='{action}']").first
    for name, value in fields.items():
        field = form.locator(f"[name='{name}']")
        if await field.evaluate("el => el.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    async with page.expect_navigation():
        await form.locator("[type=submit]").first.click()


async def emailed_code(inbox, address: str) -> str:
    deadline = time.monotonic() + 60
    while not inbox.to(address):
        assert time.monotonic() < deadline, f"no email to {address}"
        await asyncio.sleep(0.2)  # the product's worker sends it; we only watch the inbox
    return inbox.last_code(address)


async def watch_progress_to_the_end(page) -> None:
    bar = page.locator("[role=progressbar]")
    await bar.wait_for()
    await page.locator("[role=progressbar][aria-valuenow='100']").wait_for(timeout=PROGRESS_MS)
    assert "progress--failed" not in (await bar.get_attribute("class")), await page.content()


async def new_page(chromium, product, lang: str):
    context = await chromium.new_context(
        locale=lang, base_url=product.url, viewport={"width": 1280, "height": 900}
    )
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    return context, page, errors


@pytest.mark.parametrize("lang", ["en", "ar"])
async def test_a_new_visitor_goes_from_signup_to_a_running_system_and_a_ticket(
    product, chromium, lang
):
    context, page, errors = await new_page(chromium, product, lang)
    email = f"visitor-{lang}-{secrets.token_hex(3)}@example.com"
    subdomain = f"e2e{lang}{secrets.token_hex(3)}"

    await page.goto("/")
    await check_page(page, lang, "home")
    trial_link = page.locator("a[href*='mode=trial']").first
    trial_url = await trial_link.get_attribute("href")

    # Sign up and verify the emailed code.
    await page.goto("/signup")
    await check_page(page, lang, "signup")
    await submit(
        page,
        "/signup",
        {"name": f"Visitor {lang}", "company": f"Co {lang}", "email": email, "password": PASSWORD},
    )
    assert page.url.endswith("/verify")
    await check_page(page, lang, "verify")
    await submit(page, "/verify", {"code": await emailed_code(product.inbox, email)})
    assert "/login" in page.url
    await check_page(page, lang, "login")
    await submit(page, "/login", {"email": email, "password": PASSWORD})
    assert page.url.endswith("/panel/")
    await check_page(page, lang, "dashboard")

    # A trial, its live progress to 100 %, the system and its login.
    await page.goto(trial_url)
    await check_page(page, lang, "checkout")
    await submit(page, "/create_system", {"subdomain": subdomain})
    assert "/operations/" in page.url
    await watch_progress_to_the_end(page)
    await check_page(page, lang, "progress")
    async with page.expect_navigation():
        await page.locator("a[href^='/panel/systems/']").first.click()
    await check_page(page, lang, "system")
    assert subdomain in await page.locator("main").inner_text()
    credentials = page.locator("#credentials")
    await credentials.locator("[name=password]").fill(PASSWORD)
    await credentials.locator("[type=submit]").click()
    await page.locator("#credentials code").first.wait_for()
    assert await page.locator("#credentials code").first.inner_text() == "admin"
    await check_page(page, lang, "system-credentials")

    # The wallet, topped up through PayPal and back.
    await page.goto("/panel/wallet?currency=USD")
    await check_page(page, lang, "wallet")
    await submit(page, "/recharge_wallet", {"amount": "100"})
    await page.wait_for_url(re.compile(r"/panel/"))
    assert any(o["status"] == "COMPLETED" for o in product.paypal.orders.values())
    await page.goto("/panel/wallet?currency=USD")
    balance = "١٠٠" if lang == "ar" and "١" in await page.content() else "100"
    assert balance in await page.locator("main").inner_text()
    await check_page(page, lang, "wallet-topped-up")

    # A paid package, from the wallet.
    await page.goto("/panel/systems/new?package=starter&mode=paid&currency=USD&period=monthly")
    await submit(page, "/create_system", {"subdomain": subdomain + "p"})
    assert "/operations/" in page.url
    await watch_progress_to_the_end(page)
    await page.goto("/panel/invoices")
    await check_page(page, lang, "invoices")
    invoice_link = page.locator("a[href^='/panel/invoices/']:not([href$='.pdf'])").first
    product.invoices.append((await invoice_link.get_attribute("href")).rsplit("/", 1)[1])
    await page.goto("/subscriptions")
    await check_page(page, lang, "subscriptions")

    # A ticket about the new system.
    await page.goto("/panel/support/new")
    await check_page(page, lang, "support-new")
    await submit(
        page,
        "/support_ticket",
        {"subject": f"Printing in {lang}", "message": "Invoices do not print since today."},
    )
    assert re.search(r"/panel/support/\w+$", page.url), page.url
    await check_page(page, lang, "ticket")
    product.tickets.append(page.url.rsplit("/", 1)[1])
    product.customers.append((email, subdomain))

    assert not errors, errors
    await context.close()


async def switch_language(page, lang: str) -> None:
    async with page.expect_navigation():
        await page.locator(f"form.lang-switch button[value='{lang}']").click()


async def sign_in(chromium, product, email: str, password: str, lang: str = "en"):
    context, page, errors = await new_page(chromium, product, lang)
    await page.goto("/login")
    await submit(page, "/login", {"email": email, "password": password})
    return context, page, errors


async def operation_status(product, code: str) -> str:
    rows = await asyncio.to_thread(
        product.query, "SELECT status FROM saas_operations WHERE code = ?", code
    )
    return rows[0][0]


async def make_an_operation_fail(chromium, product) -> str:
    """The customer asks for a new ERP password while the site's files are away: the script
    stops, the customer reads why. The files come back; the operation stays failed."""
    email, subdomain = product.customers[0]
    (site,) = product.query("SELECT site_name FROM launches WHERE subdomain = ?", subdomain)[0]
    site_dir = product.data_dir / "hosts" / "local-1" / "sites" / site
    away = site_dir.with_name(site + ".away")
    context, page, _ = await sign_in(chromium, product, email, PASSWORD)
    (code,) = product.query("SELECT code FROM launches WHERE subdomain = ?", subdomain)[0]
    await page.goto(f"/panel/systems/{code}")
    site_dir.rename(away)
    try:
        await submit(page, f"/panel/systems/{code}/credentials/reset", {"password": PASSWORD})
        await page.locator(".progress--failed").wait_for(timeout=PROGRESS_MS)
        await check_page(page, "en", "operation-failed")
    finally:
        away.rename(site_dir)
    await context.close()
    return page.url.rsplit("/", 1)[1]


async def test_staff_answer_a_ticket_refund_an_invoice_and_retry_a_failed_operation(
    product, chromium
):
    assert product.tickets and product.invoices, "the customer journeys run first"
    failed = await make_an_operation_fail(chromium, product)
    assert await operation_status(product, failed) == "failed"
    context, page, errors = await sign_in(chromium, product, STAFF_EMAIL, STAFF_PASSWORD)

    # The desk answers the first ticket; its customer sees the answer.
    await page.goto("/admin/support")
    await check_page(page, "en", "staff-desk")
    ticket = product.tickets[0]
    await page.goto(f"/admin/support/{ticket}")
    answer = f"Fixed on our side ({secrets.token_hex(2)})."
    await submit(page, f"/admin/support/{ticket}/reply", {"message": answer})
    assert answer in await page.locator("main").inner_text()
    await check_page(page, "en", "staff-ticket")

    # A partial refund of the first invoice to the customer's wallet.
    invoice = product.invoices[0]
    await page.goto(f"/admin/billing/invoices/{invoice}")
    await check_page(page, "en", "staff-invoice")
    await submit(
        page,
        f"/admin/billing/invoices/{invoice}/refund",
        {"amount": "5", "reason": "Goodwill for the printing trouble"},
    )
    assert page.url.endswith(f"/admin/billing/invoices/{invoice}")
    assert product.query("SELECT amount_minor FROM refunds") == [(500,)]

    # The failed operation, retried; this time the site is whole and it succeeds.
    await page.goto(f"/admin/operations/{failed}")
    await check_page(page, "en", "staff-operation-failed")
    await submit(page, f"/admin/operations/{failed}/retry", {})
    deadline = time.monotonic() + PROGRESS_MS / 1000
    while await operation_status(product, failed) != "succeeded":
        assert time.monotonic() < deadline, await operation_status(product, failed)
        await asyncio.sleep(0.3)  # the product's worker runs it; we watch its row
    await page.goto(f"/admin/operations/{failed}")
    await check_page(page, "en", "staff-operation-retried")

    # The same staff screens in Arabic.
    await switch_language(page, "ar")
    for name, url in (
        ("staff-desk", "/admin/support"),
        ("staff-ticket", f"/admin/support/{ticket}"),
        ("staff-invoice", f"/admin/billing/invoices/{invoice}"),
        ("staff-operation-retried", f"/admin/operations/{failed}"),
        ("staff-dashboard", "/admin/"),
    ):
        await page.goto(url)
        await check_page(page, "ar", name)
    assert not errors, errors
    await context.close()

    # The customer reads the answer in the thread.
    email, _ = product.customers[0]
    context, page, _ = await sign_in(chromium, product, email, PASSWORD)
    await page.goto(f"/panel/support/{ticket}")
    assert answer in await page.locator("main").inner_text()
    await context.close()
