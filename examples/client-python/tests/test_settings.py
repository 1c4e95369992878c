"""gds_client settings from the environment (what the Kubernetes ConfigMap and Secret pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gds_client import ClientSettings, SettingsError


def test_defaults_are_tls_on_short_timeouts_and_bounded_retries() -> None:
    settings = ClientSettings.from_env({})
    assert settings == ClientSettings()
    assert (settings.host, settings.port, settings.tls) == ("redis.internal", 6379, True)
    assert settings.connect_timeout_s <= 1.0
    assert settings.socket_timeout_s <= 1.0
    assert 0 < settings.retries <= 5
    assert 0 < settings.readonly_retries <= 5


def test_every_variable_is_read() -> None:
    settings = ClientSettings.from_env(
        {
            "REDIS_HOST": "redis.apps.svc.cluster.local",
            "REDIS_PORT": "6380",
            "REDIS_TLS": "false",
            "REDIS_TLS_CA_FILE": "/etc/ssl/ca.pem",
            "REDIS_USERNAME": "app",
            "REDIS_AUTH_TOKEN": "token-value",
            "REDIS_CONNECT_TIMEOUT_S": "0.5",
            "REDIS_SOCKET_TIMEOUT_S": "0.75",
            "REDIS_RETRIES": "2",
            "REDIS_READONLY_RETRIES": "4",
        }
    )
    assert settings == ClientSettings(
        host="redis.apps.svc.cluster.local",
        port=6380,
        tls=False,
        ca_file="/etc/ssl/ca.pem",
        username="app",
        password="token-value",
        connect_timeout_s=0.5,
        socket_timeout_s=0.75,
        retries=2,
        readonly_retries=4,
    )


def test_token_from_a_mounted_secret_file(tmp_path: Path) -> None:
    token = tmp_path / "auth-token"
    token.write_text("from-file\n", encoding="utf-8")
    assert ClientSettings.from_env({"REDIS_AUTH_TOKEN_FILE": str(token)}).password == "from-file"


def test_the_token_never_shows_in_the_repr() -> None:
    assert "token-value" not in repr(ClientSettings.from_env({"REDIS_AUTH_TOKEN": "token-value"}))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("REDIS_PORT", "http", "REDIS_PORT must be an integer, not 'http'"),
        ("REDIS_PORT", "70000", "REDIS_PORT must be between 1 and 65535, not 70000"),
        ("REDIS_TLS", "yes", "REDIS_TLS must be true or false, not 'yes'"),
        ("REDIS_SOCKET_TIMEOUT_S", "0", "REDIS_SOCKET_TIMEOUT_S must be between 0.05 and 30, not 0"),
        ("REDIS_RETRIES", "-1", "REDIS_RETRIES must be between 0 and 10, not -1"),
        ("REDIS_AUTH_TOKEN_FILE", "/nonexistent/token", "REDIS_AUTH_TOKEN_FILE: cannot read /nonexistent/token"),
    ],
)
def test_bad_values_are_one_clear_line(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        ClientSettings.from_env({name: value})
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_cluster_mode_flag() -> None:
    assert ClientSettings.from_env({}).cluster is False
    assert ClientSettings.from_env({"REDIS_CLUSTER_MODE": "true"}).cluster is True
    with pytest.raises(SettingsError, match="REDIS_CLUSTER_MODE must be true or false"):
        ClientSettings.from_env({"REDIS_CLUSTER_MODE": "yes please"})
