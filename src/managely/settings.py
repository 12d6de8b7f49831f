"""Settings, read from ``MANAGELY_*`` environment variables only.

Every value goes through a typed reader that rejects bad input with a message naming the
variable, so a misconfigured process fails at start-up instead of at the first request.
A secret may come from ``MANAGELY_<NAME>_FILE`` (a path) instead of the variable itself.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

PREFIX = "MANAGELY_"
CURRENCIES = ("USD", "EUR", "GBP", "SAR", "AED", "EGP")


class SettingsError(ValueError):
    """A MANAGELY_* variable holds a value we cannot use."""


def _raw(env: dict[str, str], name: str) -> str | None:
    key = PREFIX + name
    file_key = key + "_FILE"
    if env.get(file_key):
        path = Path(env[file_key])
        if not path.is_file():
            raise SettingsError(f"{file_key} points to {path}, which is not a readable file")
        return path.read_text().strip()
    value = env.get(key)
    return value if value not in (None, "") else None


def _str(env: dict[str, str], name: str, default: str | None = None) -> str | None:
    value = _raw(env, name)
    return default if value is None else value


def _int(env: dict[str, str], name: str, default: int, lo: int = 0, hi: int = 2**31) -> int:
    value = _raw(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, not {value!r}") from None
    if not lo <= number <= hi:
        raise SettingsError(f"{PREFIX}{name} must be between {lo} and {hi}, not {number}")
    return number


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    value = _raw(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, not {value!r}")


def _url(
    env: dict[str, str], name: str, schemes: tuple[str, ...], default: str | None
) -> str | None:
    value = _raw(env, name)
    if value is None:
        return default
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(f"{PREFIX}{name} must start with one of {allowed}, not {value!r}")
    return value


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = _raw(env, name)
    if value is None:
        return default
    if value not in choices:
        raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _domain(env: dict[str, str], name: str, default: str) -> str:
    value = (_raw(env, name) or default).lower()
    labels = value.split(".")
    if not all(label and label.replace("-", "").isalnum() and label.isascii() for label in labels):
        raise SettingsError(f"{PREFIX}{name} must be a domain name like example.com, not {value!r}")
    return value


@dataclass(frozen=True)
class OAuthProvider:
    """A sign-in provider: an OpenID Connect issuer, or GitHub (plain OAuth 2.0)."""

    name: str  # in URLs and in OAuthIdentity.provider
    label: str  # on the button
    kind: str  # "oidc" or "github"
    client_id: str
    client_secret: str
    issuer: str  # the OIDC issuer (discovery lives under it), or GitHub's base URL


OAUTH_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OAUTH_DEFAULTS = {  # name -> (label, kind, issuer); any other name is an OIDC issuer to name
    "google": ("Google", "oidc", "https://accounts.google.com"),
    "github": ("GitHub", "github", "https://github.com"),
}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _issuer(env: dict[str, str], name: str, default: str | None) -> str:
    value = _raw(env, name) or default
    if value is None:
        raise SettingsError(f"{PREFIX}{name} is required: the provider's issuer URL")
    parts = urlsplit(value)
    # Plain http only to this machine (a test or dev provider): tokens must not cross a network
    # in clear.
    secure = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    )
    if not (secure and parts.hostname) or parts.query or parts.fragment:
        raise SettingsError(
            f"{PREFIX}{name} must be an https:// URL (http:// only to this machine) without "
            f"query or fragment, not {value!r}"
        )
    return value.rstrip("/")


def _oauth_providers(env: dict[str, str]) -> tuple[OAuthProvider, ...]:
    names = [n.strip().lower() for n in (_raw(env, "OIDC_PROVIDERS") or "").split(",")]
    names = [n for n in names if n]
    for name in names:
        if not OAUTH_NAME_RE.match(name):
            raise SettingsError(
                f"{PREFIX}OIDC_PROVIDERS: {name!r} is not a provider name (a letter, then up to "
                "31 letters, digits or underscores)"
            )
        if names.count(name) > 1:
            raise SettingsError(f"{PREFIX}OIDC_PROVIDERS names {name!r} twice")
    providers: list[OAuthProvider] = []
    for name in names:
        key = f"OIDC_{name.upper()}"
        label, kind, issuer = OAUTH_DEFAULTS.get(
            name, (name.replace("_", " ").title(), "oidc", None)
        )
        credentials = {}
        for part in ("CLIENT_ID", "CLIENT_SECRET"):
            credentials[part] = _raw(env, f"{key}_{part}")
            if credentials[part] is None:
                raise SettingsError(
                    f"{PREFIX}{key}_{part} (or {PREFIX}{key}_{part}_FILE) is required when "
                    f"{PREFIX}OIDC_PROVIDERS names {name!r}"
                )
        providers.append(
            OAuthProvider(
                name=name,
                label=_str(env, f"{key}_LABEL", label),
                kind=kind,
                client_id=credentials["CLIENT_ID"],
                client_secret=credentials["CLIENT_SECRET"],
                issuer=_issuer(env, f"{key}_ISSUER", issuer),
            )
        )
    return tuple(providers)


@dataclass(frozen=True)
class PayPalSettings:
    """PayPal's REST API: where it is and who we are there. No client id: top-ups are off."""

    base_url: str = "https://api-m.sandbox.paypal.com"
    client_id: str | None = None
    client_secret: str | None = None
    webhook_id: str | None = None

    @property
    def enabled(self) -> bool:
        return self.client_id is not None


def _paypal(env: dict[str, str]) -> PayPalSettings:
    # Credentials travel to this URL: https only, except to this machine (a test's fake PayPal).
    base_url = _issuer(env, "PAYPAL_BASE_URL", PayPalSettings.base_url)
    values = {part: _raw(env, f"PAYPAL_{part}") for part in ("CLIENT_ID", "CLIENT_SECRET")}
    values["WEBHOOK_ID"] = _raw(env, "PAYPAL_WEBHOOK_ID")
    if any(values.values()):
        for part, value in values.items():
            if value is None:
                raise SettingsError(
                    f"{PREFIX}PAYPAL_{part} (or {PREFIX}PAYPAL_{part}_FILE) is required when any "
                    f"of {PREFIX}PAYPAL_CLIENT_ID, _CLIENT_SECRET and _WEBHOOK_ID is set"
                )
    return PayPalSettings(
        base_url=base_url,
        client_id=values["CLIENT_ID"],
        client_secret=values["CLIENT_SECRET"],
        webhook_id=values["WEBHOOK_ID"],
    )


def _data_file(env: dict[str, str], name: str) -> Path | None:
    """A data file the process reads when it can: a missing one is reported by its user, which
    carries on without it (GeoIP), but a directory in its place is a mistake refused now."""
    value = _raw(env, name)
    if value is None:
        return None
    path = Path(value).expanduser().resolve()
    if path.is_dir():
        raise SettingsError(f"{PREFIX}{name} must name a file, not the directory {path}")
    return path


def _metrics_token(env: dict[str, str]) -> str | None:
    value = _raw(env, "METRICS_TOKEN")
    if value is not None and len(value) < 16:
        raise SettingsError(f"{PREFIX}METRICS_TOKEN must be at least 16 characters long")
    return value


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    base_domain: str
    public_url: str
    smtp_url: str
    mail_from: str
    staff_email: str
    default_currency: str
    arabic_digits: bool
    session_secure: bool
    worker_threads: int
    local_tryton_port: int
    local_server: bool
    warm_pool_size: int
    oauth_providers: tuple[OAuthProvider, ...] = ()
    geoip_db: Path | None = None  # a MaxMind-format country database; None: GeoIP rules off
    trials_per_ip: int = 3
    trial_ip_window_hours: int = 24
    paypal: PayPalSettings = PayPalSettings()
    alert_webhook_url: str | None = None  # alerts are also POSTed here as JSON when set
    metrics_token: str | None = None  # /metrics answers only with this bearer token; None: off
    health_failures: int = 3  # consecutive failed checks before a server is unreachable
    # How long a dead clock's leader lock outlives it before a standby takes over.
    clock_leader_ttl_s: int = 30
    synthetic_every_minutes: int = 30  # the synthetic trial check; 0: off
    synthetic_budget_s: int = 300  # a synthetic check slower than this raises an alert
    web_requests_at_once: int = 32  # a web process works on so many; the others queue

    def oauth_provider(self, name: str) -> OAuthProvider | None:
        return next((p for p in self.oauth_providers if p.name == name), None)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


def _secret_key(env: dict[str, str], mode: str, data_dir: Path) -> str:
    value = _raw(env, "SECRET_KEY")
    if value is not None:
        if len(value) < 32:
            raise SettingsError(f"{PREFIX}SECRET_KEY must be at least 32 characters long")
        return value
    if mode == "production":
        raise SettingsError(
            f"{PREFIX}SECRET_KEY (or {PREFIX}SECRET_KEY_FILE) is required in production"
        )
    # Outside production the key is generated once and kept in the data dir, so sessions and
    # encrypted secrets survive a restart of `managely dev`.
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load(env: dict[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    mode = _choice(env, "ENV", ("development", "test", "production"), "development")
    data_dir = Path(_str(env, "DATA_DIR", "./var")).resolve()
    default_db = f"sqlite://{data_dir / 'managely.sqlite3'}"
    database_url = _url(env, "DATABASE_URL", ("sqlite", "postgres", "postgresql"), default_db)
    base_domain = _domain(env, "BASE_DOMAIN", "localhost")
    public_url = _url(env, "PUBLIC_URL", ("http", "https"), "http://127.0.0.1:5000")
    return Settings(
        env=mode,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=_url(env, "REDIS_URL", ("redis", "rediss"), None),
        secret_key=_secret_key(env, mode, data_dir),
        base_domain=base_domain,
        public_url=public_url.rstrip("/"),
        smtp_url=_url(env, "SMTP_URL", ("smtp", "smtps", "console"), "console://"),
        mail_from=_str(env, "MAIL_FROM", f"Managely <no-reply@{base_domain}>"),
        staff_email=_str(env, "STAFF_EMAIL", f"staff@{base_domain}"),
        default_currency=_choice(env, "DEFAULT_CURRENCY", CURRENCIES, "USD"),
        arabic_digits=_bool(env, "ARABIC_DIGITS", False),
        session_secure=_bool(env, "SESSION_SECURE", public_url.startswith("https://")),
        worker_threads=_int(env, "WORKER_THREADS", 4, lo=1, hi=64),
        local_tryton_port=_int(env, "LOCAL_TRYTON_PORT", 8100, lo=1024, hi=32767),
        local_server=_bool(env, "LOCAL_SERVER", True),
        warm_pool_size=_int(env, "WARM_POOL_SIZE", 2, lo=0, hi=100),
        oauth_providers=_oauth_providers(env),
        geoip_db=_data_file(env, "GEOIP_DB"),
        trials_per_ip=_int(env, "TRIALS_PER_IP", 3, lo=1, hi=100_000),
        web_requests_at_once=_int(env, "WEB_REQUESTS_AT_ONCE", 32, lo=1, hi=10_000),
        trial_ip_window_hours=_int(env, "TRIAL_IP_WINDOW_HOURS", 24, lo=1, hi=24 * 366),
        paypal=_paypal(env),
        alert_webhook_url=_url(env, "ALERT_WEBHOOK_URL", ("http", "https"), None),
        metrics_token=_metrics_token(env),
        health_failures=_int(env, "HEALTH_FAILURES", 3, lo=1, hi=100),
        clock_leader_ttl_s=_int(env, "CLOCK_LEADER_TTL_S", 30, lo=2, hi=3600),
        # Off outside production unless asked for: each run launches (and deletes) a real site.
        synthetic_every_minutes=_int(
            env, "SYNTHETIC_EVERY_MINUTES", 30 if mode == "production" else 0, lo=0, hi=24 * 60
        ),
        synthetic_budget_s=_int(env, "SYNTHETIC_BUDGET_S", 300, lo=1, hi=24 * 3600),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load()


def reset() -> None:
    """Forget the cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
