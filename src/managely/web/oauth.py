"""Sign in with OAuth 2.0 / OpenID Connect providers (Google, GitHub, any OIDC issuer).

``/auth/<provider>/login`` keeps a fresh state, nonce and PKCE verifier in the session and sends
the browser to the provider. The callback accepts only the state it issued, exchanges the code,
and has Authlib verify the ID token: signature against the provider's JWKS, issuer, audience,
expiry and nonce. GitHub speaks plain OAuth 2.0, so its verified email comes from its API.
Which account the identity opens is ``accounts.sign_in_with_identity``'s decision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx2
from authlib.integrations.base_client import BaseApp, OAuthError
from authlib.integrations.base_client.async_app import AsyncOAuth2Mixin
from authlib.integrations.base_client.async_openid import AsyncOpenIDMixin
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc.errors import JoseError
from quart import Blueprint, abort, current_app, flash, redirect, request, session, url_for

from managely.crypto import constant_time_equal
from managely.i18n import current_locale
from managely.i18n import gettext as _
from managely.i18n import lazy_gettext as _l
from managely.services import accounts, security
from managely.services.errors import ServiceError, ValidationError
from managely.settings import OAuthProvider
from managely.web.accounts import ask_second_factor
from managely.web.auth import client_ip, sign_in, user_agent
from managely.web.htmx import safe_next
from managely.web.referrals import link_referrer

log = logging.getLogger(__name__)
bp = Blueprint("oauth", __name__, url_prefix="/auth")
HTTP_TIMEOUT = 10
SCOPES = {"oidc": "openid email profile", "github": "read:user user:email"}
TOKEN_AUTH = {"oidc": "client_secret_basic", "github": "client_secret_post"}
STATE_REFUSED = _l("This sign-in did not start here, or it took too long. Please start again.")


class ProviderUnavailable(ServiceError):
    status = 502
    code = "provider_unavailable"


class ProviderClient(AsyncOAuth2Mixin, AsyncOpenIDMixin, BaseApp):
    """Authlib's OAuth 2.0 + OpenID client over httpx; the session handling is ours."""

    client_cls = AsyncOAuth2Client


@dataclass(frozen=True)
class Profile:
    """What the provider vouches for about the person signing in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str


@bp.app_context_processor
def provider_buttons() -> dict[str, object]:
    return {"oauth_providers": current_app.config["MANAGELY"].oauth_providers}


def _provider(name: str) -> OAuthProvider:
    provider = current_app.config["MANAGELY"].oauth_provider(name)
    if provider is None:
        abort(404)
    return provider


def _endpoints(provider: OAuthProvider) -> dict[str, str]:
    if provider.kind != "github":
        return {"server_metadata_url": f"{provider.issuer}/.well-known/openid-configuration"}
    # GitHub has no discovery. GitHub Enterprise Server serves its API under the host's /api/v3.
    api = "https://api.github.com" if provider.issuer == "https://github.com" else None
    return {
        "authorize_url": f"{provider.issuer}/login/oauth/authorize",
        "access_token_url": f"{provider.issuer}/login/oauth/access_token",
        "api_base_url": f"{api or provider.issuer + '/api/v3'}/",
    }


def _client(provider: OAuthProvider) -> ProviderClient:
    # One client per provider and app: it keeps the discovery document and JWKS it fetched.
    clients = current_app.extensions.setdefault("managely_oauth", {})
    if provider.name not in clients:
        clients[provider.name] = ProviderClient(
            framework=None,
            name=provider.name,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            client_kwargs={
                "scope": SCOPES[provider.kind],
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": TOKEN_AUTH[provider.kind],
                "timeout": HTTP_TIMEOUT,
            },
            **_endpoints(provider),
        )
    return clients[provider.name]


def _session_key(provider: OAuthProvider) -> str:
    return f"oauth:{provider.name}"


def _callback_url(provider: OAuthProvider) -> str:
    settings = current_app.config["MANAGELY"]
    return settings.public_url + url_for("oauth.callback", provider=provider.name)


def _unreachable(provider: OAuthProvider) -> ProviderUnavailable:
    return ProviderUnavailable(
        _l(
            "We could not reach %(provider)s. Please try again in a moment.",
            provider=provider.label,
        )
    )


@bp.get("/<provider>/login")
async def login(provider: str):
    config = _provider(provider)
    redirect_uri = _callback_url(config)
    try:
        started = await _client(config).create_authorization_url(redirect_uri)
    except (httpx2.HTTPError, ValueError, RuntimeError) as error:
        log.warning("%s: cannot start sign-in: %s", config.name, error)
        raise _unreachable(config) from None
    session[_session_key(config)] = {
        "state": started["state"],
        "nonce": started.get("nonce"),
        "code_verifier": started["code_verifier"],
        "redirect_uri": redirect_uri,
        "next": safe_next(request.args.get("next"), url_for("panel.dashboard")),
    }
    return redirect(started["url"])


@bp.get("/<provider>/callback")
async def callback(provider: str):
    config = _provider(provider)
    # One use only: a replayed or forged callback finds nothing to match.
    pending = session.pop(_session_key(config), None)
    state = request.args.get("state", "")
    if not pending or not state or not constant_time_equal(pending["state"], state):
        raise ValidationError(STATE_REFUSED)
    if request.args.get("error") or not request.args.get("code"):
        raise ValidationError(
            _l("Signing in with %(provider)s was cancelled or failed.", provider=config.label)
        )
    profile = await _profile(config, request.args["code"], pending)
    user, created = await accounts.sign_in_with_identity(
        config.name,
        profile.subject,
        email=profile.email,
        email_verified=profile.email_verified,
        name=profile.name,
        locale=current_locale(),
        ip=client_ip(),
        user_agent=user_agent(),
    )
    if created:
        await link_referrer(user)
    if await security.two_factor_enabled(user):
        # A provider proves the email, not the second factor: ask for it as a password sign-in does.
        return await ask_second_factor(user, pending["next"])
    await sign_in(user)
    if created:
        await flash(_("Welcome to Managely! Your account is ready."), "success")
    return redirect(pending["next"])


async def _profile(provider: OAuthProvider, code: str, pending: dict) -> Profile:
    client = _client(provider)
    try:
        token = await client.fetch_access_token(
            redirect_uri=pending["redirect_uri"], code=code, code_verifier=pending["code_verifier"]
        )
        if provider.kind == "github":
            return await _github_profile(client, token)
        return await _oidc_profile(client, provider, token, pending["nonce"])
    except (OAuthError, JoseError, KeyError, ValueError, RuntimeError) as error:
        # A refused code, a forged or replayed ID token, a wrong nonce: all end here.
        log.warning("%s: sign-in refused: %r", provider.name, error)
        raise ValidationError(
            _l(
                "We could not verify your sign-in with %(provider)s. Please start again.",
                provider=provider.label,
            )
        ) from None
    except httpx2.HTTPError as error:
        log.warning("%s: provider unreachable: %s", provider.name, error)
        raise _unreachable(provider) from None


async def _oidc_profile(
    client: ProviderClient, provider: OAuthProvider, token: dict, nonce: str
) -> Profile:
    metadata = await client.load_server_metadata()
    # The discovery document must speak for the issuer we were configured with (no mix-up).
    if metadata.get("issuer", "").rstrip("/") != provider.issuer:
        raise ValueError(f"discovery names issuer {metadata.get('issuer')!r}")
    if "id_token" not in token:
        raise ValueError("no ID token in the token response")
    claims = dict(
        await client.parse_id_token(
            token,
            nonce=nonce,
            claims_options={
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": provider.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
        )
    )
    if "email" not in claims and metadata.get("userinfo_endpoint"):
        userinfo = await client.userinfo(token=token)
        # UserInfo is only about this person when its subject matches the verified ID token.
        if userinfo.get("sub") == claims["sub"]:
            claims = {**userinfo, **claims}
    return Profile(
        subject=str(claims["sub"]),
        email=claims.get("email"),
        email_verified=claims.get("email_verified") in (True, "true"),
        name=str(claims.get("name") or ""),
    )


async def _github_profile(client: ProviderClient, token: dict) -> Profile:
    user = await client.get("user", token=token)
    user.raise_for_status()
    emails = await client.get("user/emails", token=token)
    emails.raise_for_status()
    account = user.json()
    # Prefer the primary address; any verified one will do; an unverified one links nothing.
    found = sorted(emails.json(), key=lambda e: (not e.get("verified"), not e.get("primary")))
    chosen = found[0] if found else {}
    return Profile(
        subject=str(account["id"]),
        email=chosen.get("email"),
        email_verified=chosen.get("verified") is True,
        name=str(account.get("name") or account.get("login") or ""),
    )
