"""The account pages: profile, password, two-factor sign-in, sessions, history, API tokens."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pyotp
import pytest

from managely import crypto
from managely.models.accounts import ApiToken, RecoveryCode, TotpDevice, User, UserSession
from managely.services import accounts, api_tokens
from managely.services.errors import ValidationError
from tests.conftest import PASSWORD
from tests.support import Browser, text

NEW_PASSWORD = "battery-staple-77"


async def second_browser(app, user) -> Browser:
    browser = Browser(app.test_client())
    await browser.login(user.email, PASSWORD)
    return browser


async def is_signed_in(browser: Browser) -> bool:
    response = await browser.get("/panel/account/")
    return response.status_code == 200


async def test_profile_changes_name_and_language(alice, alice_client):
    page = await text(await alice_client.get("/panel/account/"))
    assert "Alice Owner" in page and "alice@example.com" in page
    response = await alice_client.post("/panel/account/", {"name": " Alice A. ", "locale": "ar"})
    assert response.status_code == 302
    user = await User.get(id=alice.id)
    assert (user.name, user.locale) == ("Alice A.", "ar")
    page = await text(await alice_client.get("/panel/account/"))
    assert 'dir="rtl"' in page


async def test_profile_refuses_bad_input_and_changes_nothing(alice, alice_client):
    response = await alice_client.post("/panel/account/", {"name": "  ", "locale": "en"})
    assert response.status_code == 400
    assert "Name is required." in await text(response)
    response = await alice_client.post("/panel/account/", {"name": "Alice", "locale": "xx"})
    assert response.status_code == 400
    assert "Choose one of the offered languages." in await text(response)
    user = await User.get(id=alice.id)
    assert (user.name, user.locale) == ("Alice Owner", None)


async def test_password_change_checks_and_signs_out_other_browsers(
    app, alice, alice_client, smtp, run_jobs
):
    other = await second_browser(app, alice)
    response = await alice_client.post(
        "/panel/account/password", {"current_password": "nope-nope-1", "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "That is not your current password." in await text(response)
    response = await alice_client.post(
        "/panel/account/password", {"current_password": PASSWORD, "new_password": "short1"}
    )
    assert response.status_code == 400
    assert "Use at least 10 characters" in await text(response)
    assert accounts.check_password(await User.get(id=alice.id), PASSWORD)
    assert await is_signed_in(other)

    response = await alice_client.post(
        "/panel/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert accounts.check_password(await User.get(id=alice.id), NEW_PASSWORD)
    assert await is_signed_in(alice_client)
    after = await other.get("/panel/account/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    await run_jobs()
    assert "password was changed" in smtp.to("alice@example.com")[-1]["Subject"]


async def enrol(browser: Browser, user) -> tuple[pyotp.TOTP, list[str]]:
    page = await text(await browser.get("/panel/account/two-factor"))
    assert "<svg" in page and "otpauth://totp/" in page
    device = await TotpDevice.get(user=user)
    secret = crypto.decrypt(device.secret_encrypted)
    assert secret not in device.secret_encrypted  # stored encrypted
    assert secret in page
    totp = pyotp.TOTP(secret)
    response = await browser.post("/panel/account/two-factor", {"code": "000000"})
    assert response.status_code == 400
    assert (await TotpDevice.get(user=user)).confirmed_at is None
    response = await browser.post("/panel/account/two-factor", {"code": totp.now()})
    assert response.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", await text(response))
    assert len(codes) == 10
    stored = await RecoveryCode.filter(user=user).values_list("code_hash", flat=True)
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step, as a phone whose clock runs a little ahead shows it."""
    return totp.at(time.time() + totp.interval)


async def test_two_factor_sign_in_with_codes_and_recovery_codes(app, alice, alice_client):
    totp, codes = await enrol(alice_client, alice)
    await alice_client.post("/logout")

    browser = Browser(app.test_client())
    response = await browser.post("/login", {"email": alice.email, "password": PASSWORD})
    assert response.headers["Location"] == "/login/two-factor"
    assert not await is_signed_in(browser)  # nothing signed in before the second factor
    response = await browser.post("/login/two-factor", {"code": "123456"})
    assert response.status_code == 400
    assert "That code is not right." in await text(response)
    assert not await is_signed_in(browser)

    # One step of clock drift is accepted; the code is then spent.
    code = next_code(totp)
    response = await browser.post("/login/two-factor", {"code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/panel/"
    assert await is_signed_in(browser)
    await browser.post("/logout")

    replay = Browser(app.test_client())
    await replay.post("/login", {"email": alice.email, "password": PASSWORD})
    response = await replay.post("/login/two-factor", {"code": code})
    assert response.status_code == 400
    assert "already used" in await text(response)
    assert not await is_signed_in(replay)

    response = await replay.post("/login/two-factor", {"code": codes[0].upper()})
    assert response.status_code == 302
    assert await is_signed_in(replay)
    await replay.post("/logout")
    again = Browser(app.test_client())
    await again.post("/login", {"email": alice.email, "password": PASSWORD})
    response = await again.post("/login/two-factor", {"code": codes[0]})
    assert response.status_code == 400
    assert not await is_signed_in(again)
    assert await RecoveryCode.filter(user=alice, used_at=None).count() == 9


async def test_wrong_second_factor_codes_lock_the_step_for_a_while(app, alice, alice_client):
    totp, _ = await enrol(alice_client, alice)
    browser = Browser(app.test_client())
    await browser.post("/login", {"email": alice.email, "password": PASSWORD})
    statuses = [
        (await browser.post("/login/two-factor", {"code": "999999"})).status_code for _ in range(5)
    ]
    assert statuses == [400] * 5
    # Signing in with the password again buys no fresh guesses, and the right code waits too.
    await browser.post("/login", {"email": alice.email, "password": PASSWORD})
    response = await browser.post("/login/two-factor", {"code": next_code(totp)})
    assert response.status_code == 429
    assert "Too many wrong codes. Try again in 15 minutes." in await text(response)
    assert not await is_signed_in(browser)


async def test_the_two_factor_step_expires_and_needs_the_password_step(app, alice, alice_client):
    totp, _ = await enrol(alice_client, alice)
    browser = Browser(app.test_client())
    response = await browser.get("/login/two-factor")
    assert response.headers["Location"] == "/login"
    await browser.post("/login", {"email": alice.email, "password": PASSWORD})
    async with browser.client.session_transaction() as session:
        session["two_factor"] = {**session["two_factor"], "at": int(time.time()) - 301}
    response = await browser.post("/login/two-factor", {"code": totp.now()})
    assert response.headers["Location"] == "/login"
    assert not await is_signed_in(browser)


async def test_disable_two_factor_needs_password_and_code(app, alice, alice_client):
    totp, _ = await enrol(alice_client, alice)
    page = await text(await alice_client.get("/panel/account/security"))
    assert "10 unused recovery codes left." in page
    response = await alice_client.post(
        "/panel/account/two-factor/disable", {"password": "wrong-pass-1", "code": totp.now()}
    )
    assert response.status_code == 400
    assert "That is not your current password." in await text(response)
    response = await alice_client.post(
        "/panel/account/two-factor/disable", {"password": PASSWORD, "code": "abc"}
    )
    assert response.status_code == 400
    assert await TotpDevice.exists(user=alice, confirmed_at__not_isnull=True)

    response = await alice_client.post(
        "/panel/account/two-factor/disable", {"password": PASSWORD, "code": next_code(totp)}
    )
    assert response.status_code == 302
    assert not await TotpDevice.exists(user=alice)
    assert not await RecoveryCode.exists(user=alice)
    browser = Browser(app.test_client())
    response = await browser.post("/login", {"email": alice.email, "password": PASSWORD})
    assert response.headers["Location"] == "/panel/"


async def test_new_recovery_codes_replace_the_old_ones(alice, alice_client):
    _, old = await enrol(alice_client, alice)
    response = await alice_client.post(
        "/panel/account/two-factor/recovery-codes", {"password": "wrong-pass-1"}
    )
    assert response.status_code == 400
    response = await alice_client.post(
        "/panel/account/two-factor/recovery-codes", {"password": PASSWORD}
    )
    new = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", await text(response))
    assert len(new) == 10 and not set(new) & set(old)
    assert await RecoveryCode.filter(user=alice).count() == 10


async def test_sessions_are_listed_and_revoked(app, alice, alice_client):
    phone = Browser(app.test_client())
    await phone.client.post(
        "/login",
        form={"email": alice.email, "password": PASSWORD, "csrf_token": await phone.csrf()},
        headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Chrome/139.0 Mobile"},
    )
    laptop = await second_browser(app, alice)
    page = await text(await alice_client.get("/panel/account/sessions"))
    assert "Chrome on Android" in page
    assert page.count("This browser") == 1
    phone_session = await UserSession.get(user=alice, user_agent__contains="Android")
    assert f"/panel/account/sessions/{phone_session.code}/revoke" in page

    response = await alice_client.post(f"/panel/account/sessions/{phone_session.code}/revoke")
    assert response.status_code == 302
    after = await phone.get("/panel/account/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert await is_signed_in(laptop)

    response = await alice_client.post("/panel/account/sessions/revoke-others")
    assert response.status_code == 302
    assert not await is_signed_in(laptop)
    assert await is_signed_in(alice_client)
    assert await UserSession.filter(user=alice, revoked_at=None).count() == 1


async def test_an_outsider_cannot_revoke_a_session_or_token(alice, charlie_client):
    session = await accounts.start_session(alice, ip="192.0.2.1", user_agent="")
    token, _ = await api_tokens.create(alice, name="ci")
    for url in (
        f"/panel/account/sessions/{session.code}/revoke",
        f"/panel/account/tokens/{token.code}/revoke",
    ):
        assert (await charlie_client.post(url)).status_code == 404
    assert (await UserSession.get(id=session.id)).revoked_at is None
    assert (await ApiToken.get(id=token.id)).revoked_at is None


async def test_login_history_shows_successes_and_failures(app, alice, alice_client):
    browser = Browser(app.test_client())
    await browser.post("/login", {"email": alice.email, "password": "not-it-123"})
    page = await text(await alice_client.get("/panel/account/history"))
    assert "Wrong password" in page
    assert "Refused" in page and "Signed in" in page


async def test_api_tokens_are_shown_once_and_revocable(alice, alice_client):
    response = await alice_client.post("/panel/account/tokens", {"name": "Export", "expires": "30"})
    assert response.status_code == 200
    value = re.search(r'id="new-token">([^<]+)<', await text(response)).group(1)
    token = await ApiToken.get(user=alice, name="Export")
    assert token.token_hash == crypto.token_hash(value) and value.startswith(token.prefix)
    assert value not in await text(await alice_client.get("/panel/account/tokens"))
    assert token.expires_at is not None

    user = await api_tokens.authenticate(value)
    assert user is not None and user.id == alice.id
    assert (await ApiToken.get(id=token.id)).last_used_at is not None
    assert await api_tokens.authenticate(value + "x") is None
    assert await api_tokens.authenticate("") is None

    response = await alice_client.post(f"/panel/account/tokens/{token.code}/revoke")
    assert response.status_code == 302
    assert await api_tokens.authenticate(value) is None
    assert "<td>Export</td>" not in await text(await alice_client.get("/panel/account/tokens"))


async def test_api_token_bad_input_and_expiry(alice, alice_client):
    response = await alice_client.post("/panel/account/tokens", {"name": "", "expires": "30"})
    assert response.status_code == 400
    assert "Name is required." in await text(response)
    response = await alice_client.post("/panel/account/tokens", {"name": "x", "expires": "3"})
    assert response.status_code == 400
    assert "Choose one of the offered expiry periods." in await text(response)
    assert not await ApiToken.exists(user=alice)

    token, value = await api_tokens.create(alice, name="short-lived")
    await ApiToken.filter(id=token.id).update(expires_at=accounts.now() - timedelta(seconds=1))
    assert await api_tokens.authenticate(value) is None
    with pytest.raises(ValidationError) as error:
        await api_tokens.create(alice, name="past", expires_at=accounts.now() - timedelta(days=1))
    assert error.value.field == "expires"
