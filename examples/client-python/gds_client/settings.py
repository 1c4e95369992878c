"""The client's settings, and how a deployment passes them (environment variables, see docs/clients.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it (and never shows a secret)."""


@dataclass(frozen=True)
class ClientSettings:
    host: str = "redis.internal"
    port: int = 6379
    tls: bool = True
    #: None: the system's trust store (ElastiCache certificates chain to Amazon's public CAs).
    ca_file: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a repr, a log line or an error
    #: TCP connect and TLS handshake, per attempt.
    connect_timeout_s: float = 0.5
    #: Waiting for a command's reply.
    socket_timeout_s: float = 1.0
    #: Retries of a connection error or timeout (each one reconnects, so it re-resolves). redis-py
    #: retries the connect inside each command retry, so a command against a hung server gives up after
    #: socket_timeout_s + retries * (retries + 1) * connect_timeout_s + backoff: about 6 s by default.
    retries: int = 2
    #: Retries of READONLY (each one drops the whole pool first).
    readonly_retries: int = 3
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 1.0
    max_connections: int = 50
    #: Cluster mode enabled (sharded) datastore: use connect_cluster() (a RedisCluster).
    cluster: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """REDIS_HOST, REDIS_PORT, REDIS_TLS, REDIS_TLS_CA_FILE, REDIS_USERNAME, REDIS_AUTH_TOKEN or
        REDIS_AUTH_TOKEN_FILE, REDIS_CONNECT_TIMEOUT_S, REDIS_SOCKET_TIMEOUT_S, REDIS_RETRIES,
        REDIS_READONLY_RETRIES, REDIS_CLUSTER_MODE; unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()
        token = env.get("REDIS_AUTH_TOKEN") or None
        if token is None and (token_file := env.get("REDIS_AUTH_TOKEN_FILE")):
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as error:
                raise SettingsError(f"REDIS_AUTH_TOKEN_FILE: cannot read {token_file}: {error.strerror}") from None
        return cls(
            host=env.get("REDIS_HOST") or defaults.host,
            port=_number(env, "REDIS_PORT", defaults.port, int, low=1, high=65535),
            tls=_flag(env, "REDIS_TLS", defaults.tls),
            ca_file=env.get("REDIS_TLS_CA_FILE") or None,
            username=env.get("REDIS_USERNAME") or None,
            password=token,
            connect_timeout_s=_number(
                env, "REDIS_CONNECT_TIMEOUT_S", defaults.connect_timeout_s, float, low=0.05, high=30
            ),
            socket_timeout_s=_number(
                env, "REDIS_SOCKET_TIMEOUT_S", defaults.socket_timeout_s, float, low=0.05, high=30
            ),
            retries=_number(env, "REDIS_RETRIES", defaults.retries, int, low=0, high=10),
            readonly_retries=_number(env, "REDIS_READONLY_RETRIES", defaults.readonly_retries, int, low=0, high=10),
            cluster=_flag(env, "REDIS_CLUSTER_MODE", defaults.cluster),
        )


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "false"):
        return raw == "true"
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


N = TypeVar("N", int, float)  # not PEP 695 syntax: the client supports Python 3.11


def _number(env: Mapping[str, str], name: str, default: N, kind: type[N], *, low: float, high: float) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a{'n integer' if kind is int else ' number'}, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value
