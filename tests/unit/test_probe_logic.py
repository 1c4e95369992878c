"""The probe algorithm and its classification, with fake clients for what a real server cannot do on cue."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

import pytest
import redis

from gdfailover import signals
from gdfailover.config import ConfigError, ProbeSettings
from gdfailover.credentials import NO_CREDENTIALS, Credentials, SecretFormatError, parse_auth_secret
from gdfailover.probe import STATUSES, Heartbeat, run_probe
from gdfailover.redis_client import classify_error
from gdfailover.signals import HEALTH_CHECK_STATUS, HEARTBEAT_AGE, REPLICATION_LINK_UP, record_probe

SETTINGS = ProbeSettings(host="fake", timeout_seconds=0.5, region="eu-west-1", replication_group_id="rg-1")


class FakeRedis:
    """Stores what was SET; behaviour per command is scripted by the test."""

    def __init__(self, on_set: Any = None, on_get: Any = None, on_ping: Any = None, on_info: Any = None) -> None:
        self.store: dict[str, str] = {}
        self.on_set, self.on_get, self.on_ping, self.on_info = on_set, on_get, on_ping, on_info
        self.info_sections: list[str | None] = []
        self.closed = False

    def ping(self) -> bool:
        if self.on_ping:
            self.on_ping()
        return True

    def set(self, name: str, value: str, ex: int | None = None) -> bool:
        if self.on_set:
            self.on_set()
        self.store[name] = value
        return True

    def get(self, name: str) -> Any:
        if self.on_get:
            return self.on_get(self.store.get(name))
        return self.store.get(name)

    def info(self, section: str | None = None) -> Any:
        self.info_sections.append(section)
        if self.on_info:
            return self.on_info()
        return {"role": "master", "connected_slaves": 0}

    def close(self) -> None:
        self.closed = True


def _connector(fake: FakeRedis) -> Any:
    return lambda settings, creds, timeout: fake


def _no_creds() -> Credentials:
    return NO_CREDENTIALS


def test_healthy_writer_round_trips_the_heartbeat() -> None:
    fake = FakeRedis()
    result = run_probe(SETTINGS, _no_creds, _connector(fake), clock=lambda: 1000.0)
    assert (result.healthy, result.status, result.role, result.heartbeat_age_s) == (
        1,
        "healthy",
        "writer",
        0.0,
    )
    beat = Heartbeat.decode(fake.store["gds-failover:heartbeat"])
    assert beat is not None
    assert (beat.region, beat.ts, beat.replication_group_id) == ("eu-west-1", 1000.0, "rg-1")
    assert fake.closed


def test_value_mismatch_is_unhealthy() -> None:
    fake = FakeRedis(on_get=lambda stored: '{"region":"x","ts":1,"nonce":"someone-else"}')
    result = run_probe(SETTINGS, _no_creds, _connector(fake))
    assert (result.healthy, result.status, result.role) == (0, "value_mismatch", "writer")
    assert result.stage == "read"


def test_loading_server_is_unhealthy_but_reachable() -> None:
    def loading() -> None:
        raise redis.BusyLoadingError("Redis is loading the dataset in memory")

    result = run_probe(SETTINGS, _no_creds, _connector(FakeRedis(on_ping=loading)))
    assert (result.healthy, result.status, result.reachable, result.stage) == (0, "loading", 1, "connect")


def test_replica_heartbeat_age_uses_the_writers_timestamp() -> None:
    beat = Heartbeat(region="us-east-1", ts=900.0, nonce="n", replication_group_id="rg-a").encode()

    def read_only() -> None:
        raise redis.ReadOnlyError("You can't write against a read only replica.")

    fake = FakeRedis(on_set=read_only, on_get=lambda _stored: beat)
    result = run_probe(SETTINGS, _no_creds, _connector(fake), clock=lambda: 960.5)
    assert (result.status, result.role, result.heartbeat_age_s, result.heartbeat_region) == (
        "read_only",
        "replica",
        60.5,
        "us-east-1",
    )


def _read_only() -> None:
    raise redis.ReadOnlyError("You can't write against a read only replica.")


def _replica(on_info: Any) -> FakeRedis:
    beat = Heartbeat(region="us-east-1", ts=900.0, nonce="n").encode()
    return FakeRedis(on_set=_read_only, on_get=lambda _stored: beat, on_info=on_info)


def _replication_info(link: str, last_io: int) -> dict[str, Any]:
    # the shape redis-py parses INFO replication into on a replica
    return {"role": "slave", "master_link_status": link, "master_last_io_seconds_ago": last_io}


@pytest.mark.parametrize(
    ("info", "link", "last_io", "link_up"),
    [
        (_replication_info("up", 2), "up", 2.0, 1),
        (_replication_info("up", 30), "up", 30.0, 1),
        (_replication_info("up", 45), "up", 45.0, 0),  # Redis still says up, but nothing arrived for 45 s
        (_replication_info("down", -1), "down", None, 0),
        ({"role": "slave"}, None, None, 0),
    ],
    ids=["up", "up-at-the-limit", "up-but-silent", "down", "no-link-fields"],
)
def test_replica_reports_its_replication_link(
    info: dict[str, Any], link: str | None, last_io: float | None, link_up: int
) -> None:
    fake = _replica(lambda: info)
    result = run_probe(SETTINGS, _no_creds, _connector(fake), clock=lambda: 960.0)
    assert (result.status, result.role, result.heartbeat_age_s) == ("read_only", "replica", 60.0)
    assert fake.info_sections == ["replication"]
    assert (result.replication_link, result.link_last_io_s, result.replication_link_up) == (link, last_io, link_up)
    sink = RecordingMetrics()
    record_probe(sink, result)
    assert sink.metrics[REPLICATION_LINK_UP] == link_up


def test_info_refused_keeps_the_replica_read_only_with_the_link_unknown() -> None:
    def no_permission() -> None:
        raise redis.exceptions.NoPermissionError("NOPERM this user has no permissions to run the 'info' command")

    result = run_probe(SETTINGS, _no_creds, _connector(_replica(no_permission)), clock=lambda: 960.0)
    assert (result.status, result.role, result.reachable, result.heartbeat_age_s) == ("read_only", "replica", 1, 60.0)
    assert (result.replication_link, result.link_last_io_s, result.replication_link_up) == (None, None, 0)
    assert "INFO replication failed: NoPermissionError" in result.detail


def test_info_beyond_the_budget_keeps_the_replica_read_only_within_the_budget() -> None:
    release = threading.Event()

    def hung() -> dict[str, Any]:
        release.wait(10)
        return _replication_info("up", 1)

    started = time.monotonic()
    result = run_probe(SETTINGS, _no_creds, _connector(_replica(hung)), clock=lambda: 960.0)
    elapsed = time.monotonic() - started
    release.set()
    assert (result.status, result.role, result.heartbeat_age_s, result.replication_link) == (
        "read_only",
        "replica",
        60.0,
        None,
    )
    assert "INFO replication: no answer within 0.5s budget" in result.detail
    assert SETTINGS.timeout_seconds <= elapsed < SETTINGS.timeout_seconds + 0.5


def test_a_writer_is_not_asked_for_its_link_and_emits_no_link_metric() -> None:
    fake = FakeRedis()
    result = run_probe(SETTINGS, _no_creds, _connector(fake))
    sink = RecordingMetrics()
    record_probe(sink, result)
    assert result.status == "healthy"
    assert fake.info_sections == []
    assert (result.replication_link, result.replication_link_up) == (None, None)
    assert REPLICATION_LINK_UP not in sink.metrics


def test_replica_without_heartbeat_reports_no_age() -> None:
    def read_only() -> None:
        raise redis.ReadOnlyError("READONLY")

    result = run_probe(SETTINGS, _no_creds, _connector(FakeRedis(on_set=read_only, on_get=lambda _s: None)))
    assert (result.status, result.heartbeat_age_s) == ("read_only", None)
    assert "no heartbeat" in result.detail


def test_a_connector_that_never_returns_is_cut_at_the_budget() -> None:
    release = threading.Event()

    def stuck(settings: ProbeSettings, creds: Credentials, timeout: float) -> FakeRedis:
        release.wait(10)
        return FakeRedis()

    started = time.monotonic()
    result = run_probe(SETTINGS, _no_creds, stuck)
    elapsed = time.monotonic() - started
    release.set()
    assert (result.status, result.stage) == ("timeout", "connect")
    assert SETTINGS.timeout_seconds <= elapsed < SETTINGS.timeout_seconds + 0.5


def test_the_connector_gets_the_remaining_budget_not_more() -> None:
    seen: list[float] = []

    def slow_secret() -> Credentials:
        time.sleep(0.2)
        return NO_CREDENTIALS

    def record(settings: ProbeSettings, creds: Credentials, timeout: float) -> FakeRedis:
        seen.append(timeout)
        return FakeRedis()

    run_probe(SETTINGS, slow_secret, record)
    assert 0 < seen[0] <= SETTINGS.timeout_seconds - 0.15


def test_secret_failure_is_reported_as_secret_unavailable() -> None:
    def broken() -> Credentials:
        raise RuntimeError("AccessDeniedException")

    result = run_probe(SETTINGS, broken, _connector(FakeRedis()))
    assert (result.status, result.stage, result.reachable) == ("secret_unavailable", "auth_secret", 0)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (redis.AuthenticationError("invalid username-password pair"), "auth_failed"),
        (redis.ResponseError("WRONGPASS invalid username-password pair"), "auth_failed"),
        (redis.ResponseError("NOAUTH Authentication required."), "auth_failed"),
        (redis.ReadOnlyError("You can't write against a read only replica."), "read_only"),
        (redis.BusyLoadingError("Redis is loading"), "loading"),
        (redis.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), "oom"),
        (redis.ResponseError("MISCONF Errors writing to the AOF file"), "write_rejected"),
        (redis.ResponseError("NOREPLICAS Not enough good replicas to write."), "write_rejected"),
        (redis.ResponseError("ERR something new"), "error"),
        (redis.TimeoutError("Timeout reading from socket"), "timeout"),
        (redis.ConnectionError("Error 111 connecting to x:6379. Connection refused."), "refused"),
        (redis.ConnectionError("Error -2 connecting to x:6379. Name or service not known."), "unresolvable"),
        (redis.ConnectionError("Connection closed by server."), "unreachable"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "tls_failed"),
        (ConnectionRefusedError(), "refused"),
        (socket.gaierror(-2, "Name or service not known"), "unresolvable"),
        (SecretFormatError("empty"), "secret_unavailable"),
        (ValueError("boom"), "error"),
    ],
)
def test_classification(error: BaseException, status: str) -> None:
    assert classify_error(error) == status
    assert status in STATUSES


def test_classification_follows_the_chained_cause() -> None:
    outer = redis.ConnectionError("Error 1 connecting")
    outer.__cause__ = ssl.SSLCertVerificationError("unable to get local issuer certificate")
    assert classify_error(outer) == "tls_failed"


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("s3cr3t-token", Credentials(password="s3cr3t-token")),
        ('{"password": "p"}', Credentials(password="p")),
        ('{"password": "p", "username": "probe"}', Credentials(password="p", username="probe")),
    ],
)
def test_auth_secret_formats(secret: str, expected: Credentials) -> None:
    assert parse_auth_secret(secret) == expected


@pytest.mark.parametrize("secret", ["", "   ", "{not json", '{"username": "u"}', '{"password": ""}'])
def test_bad_auth_secrets_are_rejected_without_echoing_them(secret: str) -> None:
    with pytest.raises(SecretFormatError) as caught:
        parse_auth_secret(secret)
    assert secret.strip() == "" or secret not in str(caught.value)


def test_credentials_repr_hides_the_password() -> None:
    assert "hunter2" not in repr(Credentials(password="hunter2", username="u"))


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "REDIS_HOST"),
        ({"REDIS_HOST": "h", "REDIS_PORT": "abc"}, "REDIS_PORT"),
        ({"REDIS_HOST": "h", "REDIS_PORT": "70000"}, "REDIS_PORT"),
        ({"REDIS_HOST": "h", "REDIS_TLS": "maybe"}, "REDIS_TLS"),
        ({"REDIS_HOST": "h", "PROBE_TIMEOUT_SECONDS": "0"}, "PROBE_TIMEOUT_SECONDS"),
        ({"REDIS_HOST": "h", "HEARTBEAT_KEY_PREFIX": "has space"}, "HEARTBEAT_KEY_PREFIX"),
        ({"REDIS_HOST": "h", "HEALTH_METRIC_PUBLISHER": "statsd"}, "HEALTH_METRIC_PUBLISHER"),
    ],
)
def test_invalid_configuration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        ProbeSettings.from_env(env)


def test_configuration_defaults_are_secure() -> None:
    settings = ProbeSettings.from_env({"REDIS_HOST": "master.rg.cache.amazonaws.com"})
    assert (settings.tls, settings.port, settings.timeout_seconds) == (True, 6379, 3.0)


class RecordingMetrics:
    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.dimensions: dict[str, str] = {}

    def add_dimension(self, name: str, value: str) -> None:
        self.dimensions[name] = value

    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = 60) -> None:
        # Route 53 reads HealthCheckStatus's alarm: it must stay standard resolution. The trigger and the
        # promoter's per-probe reads need the others at high resolution.
        expected = 1 if name in signals.HIGH_RESOLUTION_METRICS else 60
        assert int(getattr(resolution, "value", resolution)) == expected, f"{name} published at resolution {resolution}"
        self.metrics[name] = value


def test_metrics_skip_heartbeat_age_when_unknown_and_health_when_published_elsewhere() -> None:
    result = run_probe(
        SETTINGS,
        _no_creds,
        _connector(FakeRedis(on_ping=lambda: (_ for _ in ()).throw(redis.ConnectionError("Connection refused")))),
    )
    sink = RecordingMetrics()
    record_probe(sink, result, include_health=False)
    assert HEARTBEAT_AGE not in sink.metrics
    assert HEALTH_CHECK_STATUS not in sink.metrics
    assert REPLICATION_LINK_UP not in sink.metrics  # an unknown role is no replica
    assert sink.dimensions == {"ReplicationGroupId": "rg-1"}
