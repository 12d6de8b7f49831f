"""A small OpenID Connect provider on loopback, for the sign-in tests.

It serves the discovery document, a JWKS holding an RSA key made with ``cryptography``,
``/authorize`` (the person is signed in at once and sent back with a code and the state),
``/token`` (an RS256 ID token carrying the nonce it was given; PKCE is checked) and
``/userinfo``, plus GitHub's OAuth endpoints and its ``/user`` and ``/user/emails`` API under
``/api/v3`` (as GitHub Enterprise Server lays them out). Tests choose who signs in with
``person`` and make the provider misbehave with ``claim_overrides`` or ``sign_with_stranger``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.support import _free_port

CLIENT_ID = "managely-test-client"
CLIENT_SECRET = "provider-secret-for-tests"


def _rsa_key(kid: str) -> RSAKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RSAKey.import_key(private, {"kid": kid, "use": "sig", "alg": "RS256"})


class OidcProvider:
    """The provider's state; ``start()`` serves it on 127.0.0.1 from a thread."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = _rsa_key("test-key-1")
        # Same kid, not in the JWKS: what a forger without the provider's key would sign with.
        self.stranger_key = _rsa_key("test-key-1")
        self.reset()
        self._server: ThreadingHTTPServer | None = None

    def reset(self) -> None:
        self.person: dict[str, Any] = {
            "sub": "person-1",
            "email": "erin@example.com",
            "email_verified": True,
            "name": "Erin Example",
        }
        self.github_emails: list[dict[str, Any]] = [
            {"email": "erin@example.com", "verified": True, "primary": True}
        ]
        self.claim_overrides: dict[str, Any] = {}
        self.sign_with_stranger = False
        self.profile_in_userinfo_only = False  # like issuers whose ID tokens carry only `sub`
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.token_requests = 0

    # -- HTTP ---------------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's hook name)
                provider._get(self)

            def do_POST(self) -> None:  # noqa: N802
                provider._post(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _redirect(handler: BaseHTTPRequestHandler, location: str) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        routes = {
            "/.well-known/openid-configuration": lambda: self._send(handler, 200, self.discovery()),
            "/jwks": lambda: self._send(handler, 200, {"keys": [self.key.as_dict()]}),
            "/authorize": lambda: self._authorize(handler, query, oidc=True),
            "/login/oauth/authorize": lambda: self._authorize(handler, query, oidc=False),
            "/userinfo": lambda: self._api(handler, lambda grant: grant["person"]),
            "/api/v3/user": lambda: self._api(handler, self._github_user),
            "/api/v3/user/emails": lambda: self._api(handler, lambda grant: self.github_emails),
        }
        route = routes.get(url.path)
        if route is None:
            self._send(handler, 404, {"error": "not_found"})
        else:
            route()

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if urlsplit(handler.path).path in ("/token", "/login/oauth/access_token"):
            self._token(handler, form)
        else:
            self._send(handler, 404, {"error": "not_found"})

    # -- the protocol -------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict, *, oidc: bool) -> None:
        ok = (
            query.get("client_id") == CLIENT_ID
            and query.get("response_type") == "code"
            and query.get("code_challenge_method") == "S256"
            and query.get("redirect_uri")
            and query.get("state")
            and (query.get("nonce") or not oidc)
        )
        if not ok:
            self._send(handler, 400, {"error": "invalid_request", "query": query})
            return
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "redirect_uri": query["redirect_uri"],
            "code_challenge": query["code_challenge"],
            "nonce": query.get("nonce"),
            "person": dict(self.person),
        }
        back = urlencode({"code": code, "state": query["state"]})
        self._redirect(handler, f"{query['redirect_uri']}?{back}")

    def _client_authenticated(self, handler: BaseHTTPRequestHandler, form: dict) -> bool:
        header = handler.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == CLIENT_ID and secret == CLIENT_SECRET

    def _token(self, handler: BaseHTTPRequestHandler, form: dict) -> None:
        self.token_requests += 1
        grant = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            not self._client_authenticated(handler, form)
            or grant is None
            or form.get("redirect_uri") != grant["redirect_uri"]
            or challenge != grant["code_challenge"]
        ):
            self._send(handler, 400, {"error": "invalid_grant"})
            return
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = grant
        body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer"}
        if grant["nonce"] is not None:
            body["expires_in"] = 300
            body["id_token"] = self.id_token(grant)
        self._send(handler, 200, body)

    def id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time())
        person = grant["person"]
        if self.profile_in_userinfo_only:
            person = {"sub": person["sub"]}
        claims = {
            **person,
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.claim_overrides,
        }
        key = self.stranger_key if self.sign_with_stranger else self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def _api(self, handler: BaseHTTPRequestHandler, answer) -> None:
        header = handler.headers.get("Authorization", "")
        grant = self.access_tokens.get(header.removeprefix("Bearer ").strip())
        if not header.startswith("Bearer ") or grant is None:
            self._send(handler, 401, {"error": "invalid_token"})
            return
        self._send(handler, 200, answer(grant))

    @staticmethod
    def _github_user(grant: dict[str, Any]) -> dict[str, Any]:
        person = grant["person"]
        return {"id": int(person["sub"].rsplit("-", 1)[1]), "login": "erin", "name": person["name"]}
