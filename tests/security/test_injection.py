"""An injection corpus through every form field that reaches a script, a template or a query.

Fields that reach a script (a subdomain, a custom domain) must refuse every payload before
anything is written or enqueued. Fields shown back in pages (names, ticket subject and body)
are stored as typed and rendered inert. Search and filter boxes answer normally. Nothing
ever answers 5xx, and no payload comes back as live markup.
"""

from __future__ import annotations

from urllib.parse import urlencode

from managely.models.accounts import ServiceBeneficiary
from managely.models.launches import Launch
from managely.models.operations import SaaSOperation
from managely.models.support import SupportTicket
from tests.conftest import PASSWORD, make_user
from tests.support import Browser, text
from tests.web.routes import make_launch

CORPUS = [
    "' OR '1'='1",
    "x'; DROP TABLE users; --",
    "1 UNION SELECT password_hash FROM users",
    "{{7*7}}",
    "{% print(7*7) %}",
    "${7*7}",
    "$(id)",
    "`id`",
    "shop; rm -rf /",
    "shop && id",
    "shop|id",
    "-rf",
    "--help",
    "../../etc/passwd",
    "..%2f..%2fetc%2fpasswd",
    "shop\nid",
    "shop\x00id",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "xn--80ak6aa92e.com; id",
    "a" * 300,
]
LIVE_MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>")
# One value carrying a payload of each kind that a page could render.
SHOWN = '<script>alert(1)</script> {{7*7}} ${7*7} "><img src=x onerror=alert(1)>'
SHOWN_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt; {{7*7}} ${7*7}"


async def inert(response, where: str) -> str:
    assert response.status_code < 500, where
    page = await text(response)
    for markup in LIVE_MARKUP:
        assert markup not in page, f"{where} reflects {markup}"
    return page


async def test_subdomains_and_domains_refuse_every_payload_before_any_script_runs(
    app, alice, alice_client
):
    launch, _ = await make_launch(alice)
    operations_before = await SaaSOperation.all().count()
    for payload in CORPUS:
        checked = await alice_client.get(
            f"/panel/systems/check?{urlencode({'subdomain': payload})}"
        )
        await inert(checked, f"check {payload!r}")
        created = await alice_client.post(
            "/create_system", {"package": "starter", "mode": "trial", "subdomain": payload}
        )
        await inert(created, f"create {payload!r}")
        assert created.status_code == 400, payload
        domain = await alice_client.post(
            f"/panel/systems/{launch.code}/domain", {"domain": payload}
        )
        await inert(domain, f"domain {payload!r}")
        assert domain.status_code == 400, payload
        dns = await alice_client.get(
            f"/panel/systems/{launch.code}/domain/check?{urlencode({'domain': payload})}"
        )
        await inert(dns, f"dns {payload!r}")
    assert await Launch.all().count() == 1
    assert (await Launch.get(id=launch.id)).custom_domain is None
    assert await SaaSOperation.all().count() == operations_before


async def test_names_and_tickets_keep_payloads_as_text_in_every_page_that_shows_them(
    app, alice, alice_client
):
    staff = await make_user("desk@staff.example.com", "superadmin")
    desk = Browser(app.test_client())
    await desk.login(staff.email, PASSWORD)
    company = await ServiceBeneficiary.get(owner=alice)
    await alice_client.post("/panel/account/", {"name": SHOWN[:100], "locale": "en"})
    await alice_client.post(
        f"/panel/companies/{company.code}",
        {"name": SHOWN[:100], "country": "SA", "tax_id": "", "address": SHOWN},
    )
    opened = await alice_client.post(
        "/support_ticket",
        {
            "subject": SHOWN[:120],
            "department": "technical",
            "priority": "normal",
            "launch": "",
            "message": "\n".join(p for p in CORPUS[:-1] if "\x00" not in p),
        },
    )
    assert opened.status_code == 302, await text(opened)
    ticket = await SupportTicket.get(user=alice)
    assert ticket.subject == SHOWN[:120]  # stored as typed: escaping is the template's job
    pages = {
        "profile": (alice_client, "/panel/account/"),
        "company": (alice_client, f"/panel/companies/{company.code}"),
        "ticket": (alice_client, f"/panel/support/{ticket.code}"),
        "tickets": (alice_client, "/panel/support"),
        "staff ticket": (desk, f"/admin/support/{ticket.code}"),
        "staff desk": (desk, "/admin/support"),
        "staff users": (desk, "/admin/users"),
    }
    for where, (browser, url) in pages.items():
        page = await inert(await browser.get(url), where)
        assert SHOWN_ESCAPED in page, where


async def test_search_and_filter_boxes_answer_every_payload_as_plain_data(app, alice, alice_client):
    staff = await make_user("desk@staff.example.com", "superadmin")
    desk = Browser(app.test_client())
    await desk.login(staff.email, PASSWORD)
    launch, _ = await make_launch(alice)
    for payload in CORPUS:
        for browser, path, names in (
            (desk, "/admin/users", ("q", "after")),
            (desk, "/admin/support", ("status", "department")),
            (alice_client, "/panel/wallet", ("currency", "kind", "from", "to")),
            (alice_client, f"/panel/systems/{launch.code}/usage", ("window",)),
            (alice_client, "/get_pricing", ("package", "period", "currency", "promo_code")),
            (alice_client, "/", ("currency", "period")),
        ):
            query = urlencode(dict.fromkeys(names, payload))
            response = await browser.get(f"{path}?{query}")
            await inert(response, f"{path} {payload!r}")
            assert response.status_code in (200, 400, 404), f"{path} {payload!r}"
    assert (await desk.get("/admin/users?q=alice")).status_code == 200


async def test_a_nul_character_anywhere_is_refused_before_it_reaches_the_database(
    app, alice, alice_client
):
    form = {"subject": "Nul", "department": "technical", "priority": "normal", "launch": ""}
    opened = await alice_client.post("/support_ticket", {**form, "message": "a\x00b"})
    assert opened.status_code == 400
    assert await SupportTicket.all().count() == 0
    assert (await alice_client.get("/panel/wallet?kind=%00")).status_code == 400
    assert (await alice_client.get("/panel/wallet?kind=charge")).status_code == 200
