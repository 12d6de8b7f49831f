"""Sign-up → emailed code → verify → sign in → sign out, over HTTP, and every bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from managely.models.accounts import LoginEvent, OtpCode, User
from tests.conftest import PASSWORD
from tests.support import arabic, text

SIGNUP = {
    "name": "Dana Buyer",
    "email": "dana@example.com",
    "password": PASSWORD,
    "company": "Dana Trading",
}


async def signup_and_code(client, smtp, run_jobs, data=SIGNUP) -> str:
    response = await client.post("/signup", data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/verify"
    await run_jobs()
    return smtp.last_code(data["email"])


async def test_signup_verify_login_logout_round_trip(client, smtp, run_jobs):
    code = await signup_and_code(client, smtp, run_jobs)
    mail = smtp.to("dana@example.com")[-1]
    assert code in mail["Subject"]

    page = await text(await client.get("/verify"))
    assert "dana@example.com" in page

    response = await client.post("/verify", {"code": code})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    user = await User.get(email="dana@example.com")
    assert user.email_verified_at is not None
    assert await user.beneficiaries.all().values_list("name", flat=True) == ["Dana Trading"]

    response = await client.post("/login", {"email": "DANA@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/"
    dashboard = await client.get("/panel/")
    assert dashboard.status_code == 200
    assert "Dana Trading" in await text(dashboard)
    assert await LoginEvent.filter(user=user, success=True).count() == 1

    response = await client.post("/logout")
    assert response.status_code == 302
    after = await client.get("/panel/")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/login")


async def test_it_rejects_a_taken_email_in_english_and_arabic(client, alice):
    response = await client.post("/signup", {**SIGNUP, "email": "alice@example.com"})
    assert response.status_code == 409
    assert "An account with this email already exists" in await text(response)
    response = await client.post(
        "/signup", {**SIGNUP, "email": "alice@example.com"}, headers={"Accept-Language": "ar"}
    )
    body = await text(response)
    assert 'dir="rtl"' in body
    assert arabic("An account with this email already exists. Sign in instead.") in body
    assert await User.filter(email="alice@example.com").count() == 1


@pytest.mark.parametrize(
    "password", ["short1", "aaaaaaaaaaaaaa", "abcdefghijklmn", "dana-password-1"]
)
async def test_it_rejects_a_weak_password_and_writes_nothing(client, password):
    response = await client.post("/signup", {**SIGNUP, "password": password})
    assert response.status_code == 400
    body = await text(response)
    assert "password" in body.lower()
    assert 'class="field-error"' in body
    assert not await User.exists(email="dana@example.com")


async def test_a_wrong_code_counts_down_and_then_stops_working(client, smtp, run_jobs):
    code = await signup_and_code(client, smtp, run_jobs)
    wrong = "000000" if code != "000000" else "111111"
    response = await client.post("/verify", {"code": wrong})
    assert response.status_code == 400
    assert "4 attempts left" in await text(response)
    for _ in range(4):
        response = await client.post("/verify", {"code": wrong})
    assert "Too many wrong codes" in await text(response)
    response = await client.post("/verify", {"code": code})
    assert "Too many wrong codes" in await text(response)
    assert (await User.get(email="dana@example.com")).email_verified_at is None


async def test_an_expired_code_is_refused_in_arabic(client, smtp, run_jobs):
    code = await signup_and_code(client, smtp, run_jobs)
    await OtpCode.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    response = await client.post("/verify", {"code": code}, headers={"Accept-Language": "ar"})
    assert response.status_code == 400
    assert arabic("This code has expired. Ask for a new one.") in await text(response)


async def test_resend_waits_for_the_cooldown_then_sends_a_new_code(client, smtp, run_jobs):
    first = await signup_and_code(client, smtp, run_jobs)
    response = await client.post("/verify/resend")
    assert response.status_code == 429
    assert "Please wait" in await text(response)
    await OtpCode.all().update(created_at=datetime.now(UTC) - timedelta(minutes=2))
    response = await client.post("/verify/resend")
    assert response.status_code == 302
    await run_jobs()
    assert len(smtp.to("dana@example.com")) == 2
    second = smtp.last_code("dana@example.com")
    if second != first:
        response = await client.post("/verify", {"code": first})
        assert response.status_code == 400
    response = await client.post("/verify", {"code": second})
    assert response.status_code == 302


async def test_the_sixth_wrong_password_finds_the_account_locked(client, alice):
    for _ in range(5):
        response = await client.post(
            "/login", {"email": alice.email, "password": "wrong-password-9"}
        )
        assert response.status_code == 400
        assert "Wrong email or password" in await text(response)
    response = await client.post("/login", {"email": alice.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "Too many failed sign-ins" in await text(response)
    response = await client.post(
        "/login", {"email": alice.email, "password": PASSWORD}, headers={"Accept-Language": "ar"}
    )
    body = await text(response)
    assert (
        arabic("Too many failed sign-ins. Try again in %(m)s minutes or reset your password.", m=15)
        in body
    )
    assert await LoginEvent.filter(email=alice.email, success=False).count() == 7


async def test_an_unverified_account_is_sent_to_verify(client, smtp, run_jobs):
    await signup_and_code(client, smtp, run_jobs)
    other = type(client)(client.client.app.test_client())
    response = await other.post("/login", {"email": SIGNUP["email"], "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/verify"


async def test_password_reset_by_emailed_link(client, alice, smtp, run_jobs):
    response = await client.post("/password/forgot", {"email": alice.email})
    assert response.status_code == 302
    await run_jobs()
    body = smtp.to(alice.email)[-1].get_body(("plain",)).get_content()
    link = next(word for word in body.split() if "/password/reset/" in word)
    path = link.split("127.0.0.1:5000", 1)[1]
    assert (await client.get(path)).status_code == 200
    response = await client.post(path, {"password": "a-new-secret-77"})
    assert response.status_code == 302
    response = await client.post(path, {"password": "another-secret-88"})
    assert "invalid or has expired" in await text(response)
    response = await client.post("/login", {"email": alice.email, "password": "a-new-secret-77"})
    assert response.status_code == 302


async def test_password_reset_for_an_unknown_email_says_the_same(client, smtp, run_jobs):
    response = await client.post("/password/forgot", {"email": "nobody@example.com"})
    assert response.status_code == 302
    await run_jobs()
    assert smtp.to("nobody@example.com") == []


async def test_a_form_without_csrf_token_is_refused(client, alice):
    response = await client.post("/login", {"email": alice.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "This form has expired" in await text(response)
