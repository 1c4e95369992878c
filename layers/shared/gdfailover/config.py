"""Typed configuration read from the environment (the template sets every variable).

Invalid configuration fails fast with a :class:`ConfigError` naming the variable, so a broken
deployment shows up as an init error in the first invocation instead of a misleading probe result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_KEY_PREFIX = re.compile(r"^[A-Za-z0-9_.:{}-]{1,64}$")


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


def env_str(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigError(f"{name} is required but not set")
    return default


def env_optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or default
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Everything the probe needs to know; see docs/probe.md for each variable."""

    host: str
    port: int = 6379
    tls: bool = True
    tls_ca_file: str | None = None
    auth_secret_arn: str | None = None
    timeout_seconds: float = 3.0
    heartbeat_key_prefix: str = "gds-failover"
    heartbeat_ttl_seconds: int = 86_400
    region: str = "local"
    replication_group_id: str = "unknown"
    metric_publisher: str = "emf"

    @property
    def heartbeat_key(self) -> str:
        return f"{self.heartbeat_key_prefix}:heartbeat"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ProbeSettings:
        prefix = env_str(env, "HEARTBEAT_KEY_PREFIX", "gds-failover")
        if not _KEY_PREFIX.match(prefix):
            raise ConfigError(
                f"HEARTBEAT_KEY_PREFIX must be 1-64 characters of letters, digits and _.:{{}}-, got {prefix!r}"
            )
        ca_file = env_optional(env, "REDIS_TLS_CA_FILE")
        return cls(
            host=env_str(env, "REDIS_HOST"),
            port=env_int(env, "REDIS_PORT", 6379, 1, 65535),
            tls=env_bool(env, "REDIS_TLS", True),
            tls_ca_file=ca_file,
            auth_secret_arn=env_optional(env, "REDIS_AUTH_SECRET_ARN"),
            timeout_seconds=env_float(env, "PROBE_TIMEOUT_SECONDS", 3.0, 0.1, 60.0),
            heartbeat_key_prefix=prefix,
            heartbeat_ttl_seconds=env_int(env, "HEARTBEAT_TTL_SECONDS", 86_400, 60, 30 * 86_400),
            region=env_str(env, "AWS_REGION", "local"),
            replication_group_id=env_str(env, "REPLICATION_GROUP_ID", "unknown"),
            metric_publisher=env_choice(env, "HEALTH_METRIC_PUBLISHER", "emf", ("emf", "api")),
        )
