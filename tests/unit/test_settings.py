from __future__ import annotations

import os
import subprocess
import sys

import pytest

from exness.settings import SettingsError, get_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.upper() in {f.upper() for f in get_settings.__globals__["Settings"].model_fields}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("EXNESS_HOME", str(tmp_path / "home"))


def test_defaults_follow_the_spec():
    settings = get_settings()
    assert settings.port == 8002
    assert settings.price_feed == "backpack"
    assert settings.backpack_ws_url == "wss://ws.backpack.exchange"
    assert settings.snapshot_interval_s == 20
    assert settings.rate_limit_per_minute == 600
    assert settings.email_backend == "console"
    assert settings.price_max_age_us == 10_000_000
    assert settings.price_batch_ms == 0  # SPEC §2: each quote written as it arrives
    assert settings.snapshot_url is None
    assert settings.backend_url == settings.frontend_url == "http://127.0.0.1:8002"


def test_the_sign_in_link_lands_on_the_platforms_own_terminal_by_default(monkeypatch):
    assert get_settings().frontend_url == get_settings().backend_url == "http://127.0.0.1:8002"
    monkeypatch.setenv("BACKEND_URL", "https://trade.example.com/")
    assert get_settings().frontend_url == "https://trade.example.com"
    monkeypatch.setenv("FRONTEND_URL", "http://localhost:3000")
    assert get_settings().frontend_url == "http://localhost:3000"


def test_snapshot_url_defaults_to_the_main_database(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@/exness?host=/tmp")
    assert get_settings().snapshot_url == "postgresql://postgres@/exness?host=/tmp"
    monkeypatch.setenv("SNAPSHOT_URL", "postgresql://postgres@/snapshots?host=/tmp")
    assert get_settings().snapshot_url == "postgresql://postgres@/snapshots?host=/tmp"


@pytest.mark.parametrize(
    ("env", "backend", "frontend"),
    [
        ({"PORT": "18002"}, "http://127.0.0.1:18002", "http://127.0.0.1:18002"),
        ({"HOST": "0.0.0.0", "PORT": "9000"}, "http://localhost:9000", "http://localhost:9000"),
        ({"HOST": "::1"}, "http://[::1]:8002", "http://[::1]:8002"),
        (
            {"PORT": "18002", "BACKEND_URL": "https://trade.example.com/"},
            "https://trade.example.com",
            "https://trade.example.com",
        ),
        (
            {"BACKEND_URL": "https://api.example.com", "FRONTEND_URL": "https://app.example.com"},
            "https://api.example.com",
            "https://app.example.com",
        ),
    ],
)
def test_backend_follows_host_and_port_and_frontend_follows_backend(
    monkeypatch, env, backend, frontend
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert (settings.backend_url, settings.frontend_url) == (backend, frontend)


def test_services_get_resolved_store_urls_or_a_named_error(monkeypatch):
    with pytest.raises(SettingsError, match="REDIS_URL and DATABASE_URL"):
        get_settings().stores()
    monkeypatch.setenv("REDIS_URL", "redis://localhost:6379/0")
    assert get_settings().redis_only() == "redis://localhost:6379/0"
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        get_settings().stores()
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@/exness?host=/tmp")
    stores = get_settings().stores()
    assert stores.snapshot_url == stores.database_url == "postgresql://postgres@/exness?host=/tmp"


@pytest.mark.parametrize(
    ("name", "value", "mentions"),
    [
        ("PORT", "0", "PORT"),
        ("PORT", "http", "PORT"),
        ("PRICE_FEED", "carrier-pigeon", "PRICE_FEED"),
        ("REDIS_URL", "http://localhost", "REDIS_URL"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("JWT_SECRET", "changeme", "JWT_SECRET"),
        ("JWT_SECRET", "short", "JWT_SECRET"),
        ("EMAIL_BACKEND", "resend", "RESEND_API_KEY"),
        ("RATE_LIMIT_PER_MINUTE", "-1", "RATE_LIMIT_PER_MINUTE"),
        ("BACKEND_URL", "localhost:8002", "BACKEND_URL"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(monkeypatch, name, value, mentions):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        get_settings()
    assert mentions in str(raised.value)


def test_jwt_secret_is_generated_once_and_kept(tmp_path):
    first = get_settings().jwt_key()
    again = get_settings().jwt_key()
    assert first == again and len(first) >= 32
    path = tmp_path / "home" / "jwt_secret"
    assert path.read_text().strip() == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_given_jwt_secret_is_used_as_is(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    assert get_settings().jwt_key() == "x" * 40


def test_cli_reports_a_bad_setting_clearly(tmp_path):
    env = {**os.environ, "PORT": "99999", "EXNESS_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "exness", "settings"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "PORT" in done.stderr
