"""Sign-in through OpenID Connect and GitHub against a real provider on loopback.

The provider (tests/oidc_provider.py) issues real RS256 ID tokens; the app discovers it, fetches
its JWKS and checks every token as it would Google's. The browser's trip to the provider and
back is made with httpx; everything else goes through the app's test client.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from managely import settings
from managely.models.accounts import LoginEvent, OAuthIdentity, User, UserSession
from managely.settings import OAuthProvider, SettingsError, load
from managely.web import create_app
from tests.conftest import PASSWORD, _apply_env
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.support import Browser, _free_port, text

STATE_REFUSED = "This sign-in did not start here, or it took too long. Please start again."
NOT_VERIFIED = "We could not verify your sign-in with Corp SSO. Please start again."


@pytest.fixture(scope="session")
def provider():
    running = OidcProvider().start()
    yield running
    running.stop()


def provider_env(issuer: str | None) -> dict[str, str | None]:
    return {
        "MANAGELY_OIDC_PROVIDERS": "corp,github" if issuer else None,
        "MANAGELY_OIDC_CORP_LABEL": "Corp SSO" if issuer else None,
        "MANAGELY_OIDC_CORP_ISSUER": issuer,
        "MANAGELY_OIDC_CORP_CLIENT_ID": CLIENT_ID if issuer else None,
        "MANAGELY_OIDC_CORP_CLIENT_SECRET": CLIENT_SECRET if issuer else None,
        "MANAGELY_OIDC_GITHUB_ISSUER": issuer,
        "MANAGELY_OIDC_GITHUB_CLIENT_ID": CLIENT_ID if issuer else None,
        "MANAGELY_OIDC_GITHUB_CLIENT_SECRET": CLIENT_SECRET if issuer else None,
    }


@pytest.fixture
async def app(database, provider):
    """The app with two providers configured from the environment: an OIDC issuer and GitHub
    (its Enterprise Server layout), both served by the loopback provider."""
    provider.reset()
    _apply_env(**provider_env(provider.issuer))
    yield create_app(settings.get_settings())
    _apply_env(**provider_env(None))


async def visit_provider(client: Browser, name: str = "corp", query: str = "") -> str:
    """Start the sign-in and let the provider answer; return the callback URL it sends back."""
    start = await client.get(f"/auth/{name}/login{query}")
    assert start.status_code == 302, await text(start)
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(start.headers["Location"])
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert f"{callback.scheme}://{callback.netloc}" == "http://127.0.0.1:5000"
    return f"{callback.path}?{callback.query}"


async def sign_in_with(client: Browser, name: str = "corp", query: str = ""):
    return await client.get(await visit_provider(client, name, query))


async def nothing_written() -> None:
    assert await OAuthIdentity.all().count() == 0
    assert await LoginEvent.all().count() == 0
    assert await UserSession.all().count() == 0
    assert not await User.exists(email="erin@example.com")


async def test_a_new_customer_signs_up_with_oidc_and_lands_in_the_panel(client, provider):
    start = await client.get("/auth/corp/login")
    authorize = urlsplit(start.headers["Location"])
    params = parse_qs(authorize.query)
    assert (
        f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{provider.issuer}/authorize"
    )
    assert params["scope"] == ["openid email profile"]
    assert params["code_challenge_method"] == ["S256"]
    assert params["redirect_uri"] == ["http://127.0.0.1:5000/auth/corp/callback"]
    assert params["nonce"] and params["state"]

    response = await sign_in_with(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/"
    panel = await client.get("/panel/")
    assert panel.status_code == 200
    assert "Erin Example" in await text(panel)

    user = await User.get(email="erin@example.com")
    assert user.name == "Erin Example"
    assert user.email_verified_at is not None
    assert user.password_hash is None  # no password works until they set one
    assert await user.beneficiaries.all().count() == 1
    roles = await user.user_roles.all().prefetch_related("role")
    assert [r.role.name for r in roles] == ["customer"]
    identity = await OAuthIdentity.get(user=user)
    assert (identity.provider, identity.subject, identity.email) == (
        "corp",
        "person-1",
        "erin@example.com",
    )
    event = await LoginEvent.get(user=user)
    assert (event.success, event.reason) == (True, "oauth:corp")
    failed = await client.post("/login", {"email": "erin@example.com", "password": ""})
    assert failed.status_code == 400


async def test_signing_in_again_opens_the_same_account(app, client, provider):
    await sign_in_with(client)
    other = Browser(app.test_client())
    response = await sign_in_with(other, query="?next=/panel/company")
    assert response.headers["Location"] == "/panel/company"
    assert await User.filter(email="erin@example.com").count() == 1
    assert await OAuthIdentity.all().count() == 1
    assert await UserSession.all().count() == 2


async def test_an_account_with_the_same_verified_email_is_linked(client, provider, alice):
    provider.person.update(sub="alice-at-corp", email="Alice@Example.com", name="A. Owner")
    response = await sign_in_with(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/panel/"
    identities = await OAuthIdentity.all()
    assert [(i.user_id, i.provider, i.subject) for i in identities] == [
        (alice.id, "corp", "alice-at-corp")
    ]
    assert await User.all().count() == 1
    refreshed = await User.get(id=alice.id)
    assert refreshed.name == "Alice Owner"
    assert refreshed.password_hash == alice.password_hash  # her password still works
    assert "Alice Owner" in await text(await client.get("/panel/"))


async def test_a_forged_state_is_refused_and_nothing_is_written(client, provider):
    callback = await visit_provider(client)
    forged = callback.replace("state=", "state=forged")
    response = await client.get(forged)
    assert response.status_code == 400
    assert STATE_REFUSED in await text(response)
    assert provider.token_requests == 0
    await nothing_written()
    # The refusal used up the pending sign-in: the genuine answer cannot be replayed now.
    replay = await client.get(callback)
    assert replay.status_code == 400
    await nothing_written()


async def test_a_callback_this_browser_never_started_is_refused(app, client, provider):
    callback = await visit_provider(client)
    stranger = Browser(app.test_client())
    response = await stranger.get(callback)
    assert response.status_code == 400
    assert STATE_REFUSED in await text(response)
    await nothing_written()


@pytest.mark.parametrize(
    "tampering",
    [
        {"claim_overrides": {"nonce": "not-the-nonce-we-sent"}},
        {"sign_with_stranger": True},
        {"claim_overrides": {"aud": "another-client"}},
        {"claim_overrides": {"iss": "http://127.0.0.1:1"}},
        {"claim_overrides": {"exp": 1_000_000_000}},
    ],
    ids=["nonce", "signature", "audience", "issuer", "expired"],
)
async def test_a_bad_id_token_is_refused_and_nothing_is_written(client, provider, tampering):
    for name, value in tampering.items():
        setattr(provider, name, value)
    response = await sign_in_with(client)
    assert response.status_code == 400
    assert NOT_VERIFIED in await text(response)
    assert provider.token_requests == 1
    await nothing_written()
    assert (await client.get("/panel/")).status_code == 302


async def test_an_unverified_email_does_not_link_an_existing_account(client, provider, alice):
    provider.person.update(email="alice@example.com", email_verified=False)
    response = await sign_in_with(client)
    assert response.status_code == 403
    body = await text(response)
    assert "the provider has not verified that the address is yours" in body
    assert await OAuthIdentity.all().count() == 0
    assert await UserSession.all().count() == 0
    event = await LoginEvent.get(user=alice)
    assert (event.success, event.reason) == (False, "oauth_unverified_email")
    assert (await client.get("/panel/")).status_code == 302


async def test_an_unverified_email_does_not_create_an_account(client, provider):
    provider.person.update(email_verified=False)
    response = await sign_in_with(client)
    assert response.status_code == 403
    assert "The provider has not verified your email address" in await text(response)
    await nothing_written()


async def test_a_verified_sign_in_takes_over_an_address_nobody_proved(client, provider):
    """Someone signed up with Erin's address and never verified it: Erin's verified sign-in
    gets the account, and the password they chose stops working."""
    squatter = await client.post(
        "/signup",
        {"name": "Squatter", "email": "erin@example.com", "password": PASSWORD, "company": "X"},
    )
    assert squatter.status_code == 302
    response = await sign_in_with(client)
    assert response.headers["Location"] == "/panel/"
    user = await User.get(email="erin@example.com")
    assert user.email_verified_at is not None
    assert user.password_hash is None
    assert await OAuthIdentity.filter(user=user).count() == 1


async def test_the_email_may_come_from_userinfo_instead_of_the_id_token(client, provider):
    provider.profile_in_userinfo_only = True
    response = await sign_in_with(client)
    assert response.headers["Location"] == "/panel/"
    user = await User.get(email="erin@example.com")
    assert user.name == "Erin Example"
    assert await OAuthIdentity.filter(user=user, subject="person-1").exists()


async def test_an_unreachable_provider_is_reported_and_nothing_is_written(database):
    down = OAuthProvider(
        name="down",
        label="Down SSO",
        kind="oidc",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        issuer=f"http://127.0.0.1:{_free_port()}",
    )
    app = create_app(dataclasses.replace(settings.get_settings(), oauth_providers=(down,)))
    browser = Browser(app.test_client())
    response = await browser.get("/auth/down/login")
    assert response.status_code == 502
    assert "We could not reach Down SSO" in await text(response)
    await nothing_written()


async def test_github_signs_up_with_its_primary_verified_email(client, provider):
    provider.github_emails = [
        {"email": "old@example.com", "verified": False, "primary": False},
        {"email": "erin@example.com", "verified": True, "primary": True},
    ]
    start = await client.get("/auth/github/login")
    location = urlsplit(start.headers["Location"])
    assert location.path == "/login/oauth/authorize"
    assert parse_qs(location.query)["scope"] == ["read:user user:email"]
    response = await sign_in_with(client, "github")
    assert response.headers["Location"] == "/panel/"
    identity = await OAuthIdentity.get(provider="github").prefetch_related("user")
    assert (identity.subject, identity.user.email, identity.user.name) == (
        "1",
        "erin@example.com",
        "Erin Example",
    )


async def test_github_without_a_verified_email_is_refused(client, provider):
    provider.github_emails = [{"email": "erin@example.com", "verified": False, "primary": True}]
    response = await sign_in_with(client, "github")
    assert response.status_code == 403
    await nothing_written()


async def test_the_sign_in_pages_show_only_configured_providers(client, database):
    for page in ("/login", "/signup"):
        body = await text(await client.get(page))
        assert "Continue with Corp SSO" in body
        assert 'href="/auth/github/login' in body
        assert "Continue with Google" not in body
    plain = create_app(dataclasses.replace(settings.get_settings(), oauth_providers=()))
    bare = Browser(plain.test_client())
    assert "Continue with" not in await text(await bare.get("/login"))
    assert (await bare.get("/auth/corp/login")).status_code == 404
    assert (await client.get("/auth/google/login")).status_code == 404


BASE_ENV = {"MANAGELY_ENV": "test", "MANAGELY_SECRET_KEY": "k" * 40}


def test_google_needs_only_its_client_credentials(tmp_path):
    env = {
        **BASE_ENV,
        "MANAGELY_DATA_DIR": str(tmp_path),
        "MANAGELY_OIDC_PROVIDERS": " Google , ",
        "MANAGELY_OIDC_GOOGLE_CLIENT_ID": "id.apps.googleusercontent.com",
        "MANAGELY_OIDC_GOOGLE_CLIENT_SECRET_FILE": str(tmp_path / "secret"),
    }
    (tmp_path / "secret").write_text("from-a-file\n")
    (google,) = load(env).oauth_providers
    assert (google.name, google.label, google.kind, google.issuer) == (
        "google",
        "Google",
        "oidc",
        "https://accounts.google.com",
    )
    assert google.client_secret == "from-a-file"
    assert load({**BASE_ENV, "MANAGELY_DATA_DIR": str(tmp_path)}).oauth_providers == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"MANAGELY_OIDC_PROVIDERS": "corp/sso"}, "'corp/sso' is not a provider name"),
        ({"MANAGELY_OIDC_PROVIDERS": "github,github"}, "names 'github' twice"),
        ({"MANAGELY_OIDC_PROVIDERS": "corp"}, "MANAGELY_OIDC_CORP_CLIENT_ID .* is required"),
        (
            {"MANAGELY_OIDC_PROVIDERS": "corp", "MANAGELY_OIDC_CORP_CLIENT_ID": "x"},
            "MANAGELY_OIDC_CORP_CLIENT_SECRET .* is required",
        ),
        (
            {
                "MANAGELY_OIDC_PROVIDERS": "corp",
                "MANAGELY_OIDC_CORP_CLIENT_ID": "x",
                "MANAGELY_OIDC_CORP_CLIENT_SECRET": "y",
            },
            "MANAGELY_OIDC_CORP_ISSUER is required",
        ),
        (
            {
                "MANAGELY_OIDC_PROVIDERS": "corp",
                "MANAGELY_OIDC_CORP_CLIENT_ID": "x",
                "MANAGELY_OIDC_CORP_CLIENT_SECRET": "y",
                "MANAGELY_OIDC_CORP_ISSUER": "http://sso.example.com",
            },
            r"must be an https:// URL \(http:// only to this machine\)",
        ),
    ],
)
def test_it_rejects_bad_provider_settings(tmp_path, extra, message):
    with pytest.raises(SettingsError, match=message):
        load({**BASE_ENV, "MANAGELY_DATA_DIR": str(tmp_path), **extra})


async def test_a_provider_sign_in_still_asks_for_the_second_factor(client, provider, alice):
    import pyotp

    from managely.services import security

    secret, _ = await security.start_enrolment(alice)
    await security.confirm_enrolment(alice, pyotp.TOTP(secret).now())
    provider.person.update(sub="alice-2fa", email="alice@example.com", name="Alice")
    response = await sign_in_with(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/two-factor", "not signed in yet"
    panel = await client.get("/panel/")
    assert panel.status_code == 302 and panel.headers["Location"].startswith("/login")
