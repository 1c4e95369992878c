"""The probe handler against real servers: every failure mode, each within its time budget.

Each case runs the real handler from template.yaml through the Docker-free invoker with AUTH from
(moto) Secrets Manager, and asserts ``healthy``, ``status``, the emitted HealthCheckStatus and
that the call returned within the budget (1 s here) + 0.5 s. The cases that take ``server`` or
``server_factory`` run on both engines (redis-server with TLS, valkey-server without: tests/conftest.py);
the TLS cases run on redis-server.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import probe_env
from tools.invoke import emf_metrics, invoke_function
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, free_port

BUDGET_S = 1.0
SLACK_S = 0.5


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def _secret(value: str) -> str:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    return str(client.create_secret(Name=f"redis-auth-{time.monotonic_ns()}", SecretString=value)["ARN"])


@pytest.fixture
def auth_secret(aws: None) -> str:
    return _secret(json.dumps({"password": DEFAULT_PASSWORD}))


ProbeRun = Callable[..., tuple[dict[str, Any], dict[str, float], float]]


@pytest.fixture
def run_probe_handler(capsys: pytest.CaptureFixture[str]) -> ProbeRun:
    def run(env: dict[str, str]) -> tuple[dict[str, Any], dict[str, float], float]:
        capsys.readouterr()
        gc.collect()  # earlier tests' garbage (a drill's moto, a matplotlib figure) must not pause the timed probe
        started = time.monotonic()
        result = invoke_function(
            "ProbeFunction",
            {"source": "probe-state-machine", "execution": "test", "iteration": 1},
            env_vars={"ProbeFunction": env},
            region="us-east-1",
        )
        elapsed = time.monotonic() - started
        return result, emf_metrics(capsys.readouterr().out), elapsed

    return run


def _assert_unhealthy(result: dict[str, Any], metrics: dict[str, float], elapsed: float, status: str) -> None:
    assert result["status"] == status, result
    assert result["healthy"] == 0
    assert metrics["HealthCheckStatus"] == 0
    assert elapsed < BUDGET_S + SLACK_S, f"probe took {elapsed:.2f}s"


def test_healthy_writer(server: RedisServer, auth_secret: str, run_probe_handler: ProbeRun) -> None:
    result, metrics, elapsed = run_probe_handler(probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=auth_secret))
    assert result["status"] == "healthy", result["detail"]
    assert (result["healthy"], result["role"], result["heartbeat_age_s"]) == (1, "writer", 0.0)
    assert result["replication_link"] is None
    assert "ReplicationLinkUp" not in metrics
    assert metrics["HealthCheckStatus"] == 1
    assert metrics["Reachable"] == 1
    assert metrics["HeartbeatAge"] == 0
    assert metrics["ProbeLatency"] == result["latency_ms"]
    assert elapsed < BUDGET_S + SLACK_S
    heartbeat = json.loads(server.client().get("gds-failover:heartbeat"))
    assert heartbeat["region"] == "us-east-1"
    assert 0 < server.client().ttl("gds-failover:heartbeat") <= 86_400


def test_connection_refused(tls_files: TlsFiles, auth_secret: str, run_probe_handler: ProbeRun) -> None:
    result, metrics, elapsed = run_probe_handler(probe_env(free_port(), tls_files, REDIS_AUTH_SECRET_ARN=auth_secret))
    _assert_unhealthy(result, metrics, elapsed, "refused")
    assert metrics["Reachable"] == 0
    assert "HeartbeatAge" not in metrics


def test_hung_server_times_out_within_budget(
    server: RedisServer, auth_secret: str, run_probe_handler: ProbeRun
) -> None:
    server.pause()
    try:
        result, metrics, elapsed = run_probe_handler(
            probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=auth_secret)
        )
    finally:
        server.resume()
    _assert_unhealthy(result, metrics, elapsed, "timeout")
    assert elapsed >= BUDGET_S * 0.9, "a hung server must cost the whole budget, not fail early"
    assert result["stage"] == "connect"


def test_tls_client_against_plaintext_server(
    redis_factory: Callable[..., RedisServer],
    tls_files: TlsFiles,
    auth_secret: str,
    run_probe_handler: ProbeRun,
) -> None:
    """A plaintext Redis reads the ClientHello as an unfinished inline command and never answers:
    to the client this is indistinguishable from a hung server, so it is a budget-bound timeout."""
    plaintext = redis_factory("plaintext", tls=False)
    result, metrics, elapsed = run_probe_handler(
        probe_env(plaintext.port, tls_files, REDIS_AUTH_SECRET_ARN=auth_secret)
    )
    _assert_unhealthy(result, metrics, elapsed, "timeout")
    assert result["stage"] == "connect"


def test_plaintext_client_against_tls_server(
    tls_redis: RedisServer, auth_secret: str, run_probe_handler: ProbeRun
) -> None:
    result, metrics, elapsed = run_probe_handler(probe_env(tls_redis.port, None, REDIS_AUTH_SECRET_ARN=auth_secret))
    _assert_unhealthy(result, metrics, elapsed, "unreachable")
    assert metrics["Reachable"] == 0


def test_untrusted_certificate(
    tls_redis: RedisServer, foreign_tls_files: TlsFiles, auth_secret: str, run_probe_handler: ProbeRun
) -> None:
    result, metrics, elapsed = run_probe_handler(
        probe_env(tls_redis.port, foreign_tls_files, REDIS_AUTH_SECRET_ARN=auth_secret)
    )
    _assert_unhealthy(result, metrics, elapsed, "tls_failed")
    assert "certificate" in result["detail"].lower()


def test_wrong_password(server: RedisServer, aws: None, run_probe_handler: ProbeRun) -> None:
    wrong = _secret("not-the-token")  # plain-string secret format
    result, metrics, elapsed = run_probe_handler(probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=wrong))
    _assert_unhealthy(result, metrics, elapsed, "auth_failed")
    assert metrics["Reachable"] == 1
    assert "not-the-token" not in json.dumps(result)


def test_missing_auth(server: RedisServer, aws: None, run_probe_handler: ProbeRun) -> None:
    result, metrics, elapsed = run_probe_handler(probe_env(server.port, server.tls))
    _assert_unhealthy(result, metrics, elapsed, "auth_failed")


def test_secret_missing_in_secrets_manager(
    tls_redis: RedisServer, tls_files: TlsFiles, aws: None, run_probe_handler: ProbeRun
) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist-AbCdEf"
    result, metrics, elapsed = run_probe_handler(probe_env(tls_redis.port, tls_files, REDIS_AUTH_SECRET_ARN=arn))
    _assert_unhealthy(result, metrics, elapsed, "secret_unavailable")
    assert result["stage"] == "auth_secret"


def test_read_only_replica_reports_replicated_heartbeat_age(
    server_factory: Callable[..., RedisServer], auth_secret: str, run_probe_handler: ProbeRun
) -> None:
    writer = server_factory("region-a")
    replica = server_factory("region-b")
    replica.replicate_from(writer)
    replica.wait_in_sync()
    written, _, _ = run_probe_handler(probe_env(writer.port, writer.tls, REDIS_AUTH_SECRET_ARN=auth_secret))
    assert written["status"] == "healthy"
    assert writer.client().execute_command("WAIT", 1, 2000) == 1
    time.sleep(0.2)

    result, metrics, elapsed = run_probe_handler(
        probe_env(replica.port, replica.tls, REDIS_AUTH_SECRET_ARN=auth_secret, REPLICATION_GROUP_ID="rg-b")
    )
    _assert_unhealthy(result, metrics, elapsed, "read_only")
    assert result["role"] == "replica"
    assert result["heartbeat_region"] == "us-east-1"
    assert 0.2 <= result["heartbeat_age_s"] < 5
    assert metrics["HeartbeatAge"] == result["heartbeat_age_s"]
    assert metrics["Reachable"] == 1
    assert (result["replication_link"], metrics["ReplicationLinkUp"]) == ("up", 1)
    assert 0 <= result["link_last_io_s"] <= 30


def test_replica_reports_its_link_down_once_the_writer_is_killed(
    server_factory: Callable[..., RedisServer], auth_secret: str, run_probe_handler: ProbeRun
) -> None:
    writer = server_factory("region-a")
    replica = server_factory("region-b")
    replica.replicate_from(writer)
    replica.wait_in_sync()
    replica_env = probe_env(replica.port, replica.tls, REDIS_AUTH_SECRET_ARN=auth_secret, REPLICATION_GROUP_ID="rg-b")
    before, before_metrics, _ = run_probe_handler(replica_env)
    assert (before["status"], before["replication_link"], before_metrics["ReplicationLinkUp"]) == ("read_only", "up", 1)

    writer.kill()
    deadline = time.monotonic() + 5
    with replica.client() as admin:
        while admin.info("replication").get("master_link_status") != "down" and time.monotonic() < deadline:
            time.sleep(0.05)

    result, metrics, elapsed = run_probe_handler(replica_env)
    _assert_unhealthy(result, metrics, elapsed, "read_only")
    assert (result["role"], result["replication_link"], result["link_last_io_s"]) == ("replica", "down", None)
    assert metrics["ReplicationLinkUp"] == 0
    assert metrics["Reachable"] == 1, "a replica that lost its writer still answers"


def test_out_of_memory_noeviction(server: RedisServer, auth_secret: str, run_probe_handler: ProbeRun) -> None:
    with server.client() as admin:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", "1")  # already above it: every write is refused with OOM
    result, metrics, elapsed = run_probe_handler(probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=auth_secret))
    _assert_unhealthy(result, metrics, elapsed, "oom")
    assert result["role"] == "writer"


def test_writes_paused(server: RedisServer, auth_secret: str, run_probe_handler: ProbeRun) -> None:
    with server.client() as admin:
        admin.execute_command("CLIENT", "PAUSE", 5000, "WRITE")
    try:
        result, metrics, elapsed = run_probe_handler(
            probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=auth_secret)
        )
    finally:
        with server.client() as admin:
            admin.execute_command("CLIENT", "UNPAUSE")
    _assert_unhealthy(result, metrics, elapsed, "timeout")
    assert result["stage"] == "write"
    assert metrics["Reachable"] == 0


def test_slow_server_beyond_budget(server: RedisServer, auth_secret: str, run_probe_handler: ProbeRun) -> None:
    sleeper = threading.Thread(
        target=lambda: server.client(timeout=10).execute_command("DEBUG", "SLEEP", 3), daemon=True
    )
    sleeper.start()
    time.sleep(0.2)  # let DEBUG SLEEP take the event loop
    result, metrics, elapsed = run_probe_handler(probe_env(server.port, server.tls, REDIS_AUTH_SECRET_ARN=auth_secret))
    sleeper.join(timeout=5)
    _assert_unhealthy(result, metrics, elapsed, "timeout")
