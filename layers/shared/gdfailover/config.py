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
    #: Cluster mode enabled (sharded) group: probe every shard through the configuration endpoint
    #: (gdfailover.cluster_probe). Explicit, not detected: see docs/probe.md "Cluster mode".
    cluster_mode: bool = False
    #: The application record's name (RecordName): a replica reads its writer's witness record under it
    #: (gdfailover.witness); None: no witness reading
    witness_record_name: str | None = None
    #: ``host:port`` of the nameserver for witness names; None: the VPC resolver (/etc/resolv.conf)
    witness_resolver: str | None = None

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
        cluster_mode = env_bool(env, "REDIS_CLUSTER_MODE", False)
        if cluster_mode and ("{" in prefix or "}" in prefix):
            raise ConfigError(
                f"HEARTBEAT_KEY_PREFIX must not contain {{ or }} in cluster mode (the probe computes each "
                f"shard's hash tag), got {prefix!r}"
            )
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
            cluster_mode=cluster_mode,
            witness_record_name=env_optional(env, "WITNESS_RECORD_NAME"),
            witness_resolver=env_host_port(env, "WITNESS_RESOLVER"),
        )


def env_host_port(env: Mapping[str, str], name: str) -> str | None:
    value = env_optional(env, name)
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be host:port, got {value!r}")
    return value


PROMOTION_MODES = ("auto", "notify", "dry-run")


@dataclass(frozen=True, slots=True)
class PromoteSettings:
    """Everything the promoter needs to know; see docs/promotion.md for each variable."""

    global_replication_group_id: str
    replication_group_id: str
    region: str
    ledger_table_name: str
    trigger_alarm_names: tuple[str, ...]
    mode: str = "auto"
    cooldown_minutes: int = 60
    max_lag_seconds: float = 120.0
    max_notification_age_seconds: int = 600
    failover_wait_seconds: int = 300
    peer_health_check_id: str | None = None
    peer_writer_alarm_name: str | None = None
    operator_topic_arn: str | None = None
    break_glass_disassociate: bool = False
    hold_retry_attempts: int = 3
    hold_retry_delay_seconds: int = 20
    local_health_max_age_seconds: int = 300
    account_id: str | None = None
    metrics_namespace: str = "Custom/Redis"
    service_name: str = "gds-failover"
    heartbeat_threshold_seconds: float | None = None
    in_region_failover_grace_seconds: int = 120
    in_region_ceiling_seconds: int = 120
    publish_health_on_promotion: bool = True
    #: This region's probe function, which reads the writer's witness record from inside the VPC
    witness_function_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PromoteSettings:
        trigger_names = tuple(name.strip() for name in env_str(env, "TRIGGER_ALARM_NAMES").split(",") if name.strip())
        if not trigger_names:
            raise ConfigError("TRIGGER_ALARM_NAMES must name at least one alarm")
        return cls(
            global_replication_group_id=env_str(env, "GLOBAL_REPLICATION_GROUP_ID"),
            replication_group_id=env_str(env, "REPLICATION_GROUP_ID"),
            region=env_str(env, "AWS_REGION"),
            ledger_table_name=env_str(env, "LEDGER_TABLE_NAME"),
            trigger_alarm_names=trigger_names,
            mode=env_choice(env, "PROMOTION_MODE", "auto", PROMOTION_MODES),
            cooldown_minutes=env_int(env, "COOLDOWN_MINUTES", 60, 0, 7 * 24 * 60),
            max_lag_seconds=env_float(env, "MAX_LAG_SECONDS", 120.0, 0.0, 86_400.0),
            max_notification_age_seconds=env_int(env, "MAX_NOTIFICATION_AGE_SECONDS", 600, 30, 86_400),
            failover_wait_seconds=env_int(env, "FAILOVER_WAIT_SECONDS", 300, 10, 840),
            peer_health_check_id=env_optional(env, "PEER_HEALTH_CHECK_ID"),
            peer_writer_alarm_name=env_optional(env, "PEER_WRITER_ALARM_NAME"),
            operator_topic_arn=env_optional(env, "OPERATOR_TOPIC_ARN"),
            break_glass_disassociate=env_bool(env, "BREAK_GLASS_DISASSOCIATE", False),
            hold_retry_attempts=env_int(env, "HOLD_RETRY_ATTEMPTS", 3, 1, 10),
            hold_retry_delay_seconds=env_int(env, "HOLD_RETRY_DELAY_SECONDS", 20, 0, 300),
            local_health_max_age_seconds=env_int(env, "LOCAL_HEALTH_MAX_AGE_SECONDS", 300, 60, 3600),
            account_id=env_optional(env, "ACCOUNT_ID"),
            metrics_namespace=env_str(env, "POWERTOOLS_METRICS_NAMESPACE", "Custom/Redis"),
            service_name=env_str(env, "POWERTOOLS_SERVICE_NAME", "gds-failover"),
            heartbeat_threshold_seconds=(
                env_float(env, "HEARTBEAT_AGE_THRESHOLD_SECONDS", 0.0, 1.0, 3600.0)
                if env_optional(env, "HEARTBEAT_AGE_THRESHOLD_SECONDS")
                else None
            ),
            in_region_failover_grace_seconds=env_int(env, "IN_REGION_FAILOVER_GRACE_SECONDS", 120, 0, 900),
            in_region_ceiling_seconds=env_int(env, "IN_REGION_CEILING_SECONDS", 120, 0, 900),
            publish_health_on_promotion=env_bool(env, "PUBLISH_HEALTH_ON_PROMOTION", True),
            witness_function_name=env_optional(env, "WITNESS_FUNCTION_NAME"),
        )
