"""Settings come from MANAGELY_* variables only and refuse bad values with a clear message."""

from __future__ import annotations

import pytest

from managely.settings import SettingsError, load

BASE = {"MANAGELY_SECRET_KEY": "k" * 40}


def test_defaults_run_the_embedded_mode(tmp_path):
    settings = load({"MANAGELY_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite://{tmp_path}/managely.sqlite3"
    assert settings.redis_url is None
    assert settings.smtp_url == "console://"
    assert settings.default_currency == "USD"
    assert len(settings.secret_key) >= 32
    assert (tmp_path / "secret_key").read_text().strip() == settings.secret_key
    assert load({"MANAGELY_DATA_DIR": str(tmp_path)}).secret_key == settings.secret_key


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MANAGELY_DATABASE_URL", "mysql://x/y", "MANAGELY_DATABASE_URL must start with one of"),
        ("MANAGELY_REDIS_URL", "http://x", "MANAGELY_REDIS_URL must start with one of"),
        ("MANAGELY_WORKER_THREADS", "many", "MANAGELY_WORKER_THREADS must be a whole number"),
        ("MANAGELY_WORKER_THREADS", "0", "must be between 1 and 64"),
        ("MANAGELY_DEFAULT_CURRENCY", "XYZ", "MANAGELY_DEFAULT_CURRENCY must be one of"),
        ("MANAGELY_ARABIC_DIGITS", "maybe", "must be true or false"),
        ("MANAGELY_BASE_DOMAIN", "bad domain!", "must be a domain name"),
        ("MANAGELY_SECRET_KEY", "short", "at least 32 characters"),
        ("MANAGELY_ENV", "staging", "MANAGELY_ENV must be one of"),
    ],
)
def test_it_refuses_bad_values(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        load({**BASE, "MANAGELY_DATA_DIR": str(tmp_path), name: value})


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(SettingsError, match="SECRET_KEY .* is required in production"):
        load({"MANAGELY_ENV": "production", "MANAGELY_DATA_DIR": str(tmp_path)})


def test_a_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("f" * 48 + "\n")
    settings = load({"MANAGELY_SECRET_KEY_FILE": str(secret), "MANAGELY_DATA_DIR": str(tmp_path)})
    assert settings.secret_key == "f" * 48
    with pytest.raises(SettingsError, match="not a readable file"):
        load({"MANAGELY_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_https_public_url_makes_cookies_secure(tmp_path):
    settings = load(
        {**BASE, "MANAGELY_DATA_DIR": str(tmp_path), "MANAGELY_PUBLIC_URL": "https://x.io"}
    )
    assert settings.session_secure is True
