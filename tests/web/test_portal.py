"""The shell every page shares: language, security headers, error pages, health, contact."""

from __future__ import annotations

import pytest

from managely.models.accounts import User
from managely.models.support import AppContact
from managely.services import platform
from tests.support import arabic, text


async def test_the_home_page_speaks_english_and_arabic(client):
    english = await text(await client.get("/"))
    assert '<html lang="en" dir="ltr">' in english
    arabic_page = await text(await client.get("/", headers={"Accept-Language": "ar"}))
    assert '<html lang="ar" dir="rtl">' in arabic_page
    assert arabic("Your own ERP system, ready in minutes") in arabic_page
    assert 'src="/static/vendor/htmx.min.js"' in arabic_page


async def test_the_language_switcher_sets_a_cookie_and_the_users_choice(alice_client, alice):
    response = await alice_client.post("/lang", {"locale": "ar", "next": "/panel/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/"
    assert "lang=ar" in response.headers["Set-Cookie"]
    assert (await User.get(id=alice.id)).locale == "ar"
    page = await text(await alice_client.get("/panel/"))
    assert 'dir="rtl"' in page


async def test_the_language_switcher_never_redirects_off_site(client):
    response = await client.post("/lang", {"locale": "ar", "next": "//evil.example.com/"})
    assert response.headers["Location"] == "/"


async def test_security_headers_are_on_every_page(client):
    response = await client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain http in tests
    https = await client.get("/", scheme="https")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_session_cookies_are_http_only_and_same_site(client, alice):
    response = await client.post("/login", {"email": alice.email, "password": "correct-horse-42"})
    cookies = response.headers.get_all("Set-Cookie")
    auth = next(c for c in cookies if c.startswith("managely_auth="))
    assert "HttpOnly" in auth and "SameSite=Lax" in auth


@pytest.mark.parametrize("locale", ["en", "ar"])
async def test_error_pages_in_both_languages(client, alice_client, locale):
    headers = {"Accept-Language": locale}
    missing = await client.get("/no/such/page", headers=headers)
    assert missing.status_code == 404
    body = await text(missing)
    expected = "We could not find that page."
    assert (arabic(expected) if locale == "ar" else expected) in body
    forbidden = await alice_client.get("/admin/", headers=headers)
    assert forbidden.status_code == 403
    expected = "You do not have access to this page."
    assert (arabic(expected) if locale == "ar" else expected) in await text(forbidden)


async def test_an_unexpected_error_shows_the_500_page(app, client):
    @app.get("/boom")
    async def boom():
        raise RuntimeError("kaboom")

    response = await client.get("/boom", headers={"Accept-Language": "ar"})
    assert response.status_code == 500
    body = await text(response)
    assert arabic("Something went wrong on our side. We have been told about it.") in body
    assert "kaboom" not in body


async def test_healthz_reports_database_and_broker(client, database):
    response = await client.get("/healthz")
    assert response.status_code == 200
    report = await response.get_json()
    assert report["status"] == "ok"
    assert report["database"] == {
        "status": "ok",
        "dialect": "postgres" if database.name == "pg" else "sqlite",
    }
    assert report["broker"] == {
        "status": "ok",
        "kind": "redis" if database.name == "pg" else "memory",
    }


async def test_the_contact_form_stores_the_message_and_tells_staff(client, smtp, run_jobs):
    form = {
        "name": "Visitor",
        "email": "v@example.org",
        "subject": "Pricing",
        "message": "Hi!",
        "website": "",
    }
    response = await client.post("/contact", form)
    assert response.status_code == 302
    await run_jobs()
    contact = await AppContact.get(email="v@example.org")
    assert contact.subject == "Pricing"
    mail = smtp.to("staff@managely.test")[-1]
    assert "Pricing" in mail["Subject"]
    assert "v@example.org" in mail.get_body(("plain",)).get_content()


async def test_the_contact_form_drops_bots_and_explains_mistakes(client, smtp, run_jobs):
    bot = {
        "name": "Bot",
        "email": "bot@example.org",
        "subject": "x",
        "message": "y",
        "website": "http://spam",
    }
    assert (await client.post("/contact", bot)).status_code == 302
    await run_jobs()
    assert not await AppContact.exists(email="bot@example.org")
    response = await client.post(
        "/contact",
        {**bot, "website": "", "email": "not-an-email"},
        headers={"Accept-Language": "ar"},
    )
    assert response.status_code == 400
    assert arabic("Enter a valid email address.") in await text(response)
    assert await AppContact.all().count() == 0


async def test_the_contact_form_is_rate_limited(client):
    form = {"name": "V", "email": "v@example.org", "subject": "s", "message": "m", "website": ""}
    statuses = [(await client.post("/contact", form)).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


async def test_maintenance_mode_shows_a_notice(client, alice):
    await platform.set_setting(alice, "maintenance_mode", True)
    body = await text(await client.get("/"))
    assert "Maintenance in progress" in body


@pytest.mark.parametrize(
    ("path", "title"),
    [("/about", "About us"), ("/terms", "Terms of service"), ("/privacy", "Privacy policy")],
)
async def test_the_public_pages_are_in_both_languages(client, path, title):
    english = await text(await client.get(path))
    assert f'<h1 class="card__title">{title}</h1>' in english
    assert f'href="{path}"' in english, "linked from every page's footer"
    page = await text(await client.get(path, headers={"Accept-Language": "ar"}))
    assert '<html lang="ar" dir="rtl">' in page and arabic(title) in page
