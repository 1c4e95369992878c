"""A rotated AUTH token must not read as a broken writer: the probe re-reads the secret past its cache.

Real redis-server (TLS + AUTH), real Powertools Parameters against moto Secrets Manager. The probe
caches the secret (SECRET_CACHE_SECONDS); the tests change the server's password and the secret
together, as a rotation that retires the old token does, and probe again inside the cache period.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

from gdfailover.cluster_probe import run_cluster_probe
from gdfailover.config import ProbeSettings
from gdfailover.credentials import (
    SECRET_CACHE_SECONDS,
    Credentials,
    SecretFetch,
    powertools_secret_fetcher,
    secrets_manager_credentials,
)
from gdfailover.probe import run_probe
from gdfailover.redis_client import connect
from tests.conftest import probe_env
from tools.localcluster import LocalCluster
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles

NEW_PASSWORD = "rotated-token-0123456789abcdef"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.client]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # Powertools builds its own client
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def _counting(fetch: SecretFetch, calls: list[bool]) -> SecretFetch:
    """The real fetcher, recording each call's ``force`` (True: past the cache)."""

    def counted(arn: str, force: bool = False) -> str:
        calls.append(force)
        return fetch(arn, force)

    return counted


def _settings(server: RedisServer, tls_files: TlsFiles, arn: str) -> ProbeSettings:
    return ProbeSettings.from_env(probe_env(server.port, tls_files, REDIS_AUTH_SECRET_ARN=arn))


def _rotate_server(server: RedisServer, password: str) -> None:
    with server.client() as client:
        client.config_set("requirepass", password)
    server.password = password


@pytest.fixture
def rotation(
    tls_redis: RedisServer, tls_files: TlsFiles, secrets: boto3.client
) -> tuple[RedisServer, ProbeSettings, str, Callable[[], Credentials], list[bool]]:
    arn = str(secrets.create_secret(Name="redis-auth", SecretString=json.dumps({"password": DEFAULT_PASSWORD}))["ARN"])
    calls: list[bool] = []
    credentials = secrets_manager_credentials(arn, _counting(powertools_secret_fetcher(), calls))
    return tls_redis, _settings(tls_redis, tls_files, arn), arn, credentials, calls


def test_a_rotation_inside_the_cache_period_still_probes_healthy(
    rotation: tuple[RedisServer, ProbeSettings, str, Callable[[], Credentials], list[bool]], secrets: boto3.client
) -> None:
    server, settings, arn, credentials, calls = rotation
    first = run_probe(settings, credentials, connect)
    assert first.status == "healthy", first.detail
    assert calls == [False]  # the cached read

    # the rotation: the secret and the server change together; the old token is retired at once
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"password": NEW_PASSWORD}))
    _rotate_server(server, NEW_PASSWORD)

    second = run_probe(settings, credentials, connect)
    assert second.status == "healthy", second.detail
    assert calls == [False, False, True]  # cached (the old token, rejected), then once past the cache

    third = run_probe(settings, credentials, connect)
    assert third.status == "healthy", third.detail
    assert calls == [False, False, True, False]  # the forced read refilled the cache: no second re-read
    assert SECRET_CACHE_SECONDS == 300  # the period these probes ran inside (docs/probe.md quotes it)


def test_a_wrong_token_still_fails_auth_after_one_re_read(
    rotation: tuple[RedisServer, ProbeSettings, str, Callable[[], Credentials], list[bool]],
) -> None:
    server, settings, _, credentials, calls = rotation
    _rotate_server(server, NEW_PASSWORD)  # the server changed, the secret did not: a real misconfiguration

    result = run_probe(settings, credentials, connect)
    assert result.status == "auth_failed", result.detail
    assert result.healthy == 0
    assert calls == [False, True]  # exactly one re-read, then the failure is reported


def test_a_secret_updated_before_the_server_keeps_the_cached_token(
    rotation: tuple[RedisServer, ProbeSettings, str, Callable[[], Credentials], list[bool]], secrets: boto3.client
) -> None:
    _, settings, arn, credentials, calls = rotation
    assert run_probe(settings, credentials, connect).status == "healthy"
    # the secret moved on first (a rotation's pending stage): the server still takes the cached token
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"password": NEW_PASSWORD}))
    result = run_probe(settings, credentials, connect)
    assert result.status == "healthy", result.detail  # the cached old token still works: no re-read needed
    assert calls == [False, False]


def test_a_rotation_reaches_every_shard_of_a_cluster(
    tls_files: TlsFiles, secrets: boto3.client, redis_factory: Callable[..., RedisServer]
) -> None:
    """Cluster mode: the discovery connection re-reads the secret, and every shard is probed with the new token."""
    del redis_factory  # only for its check that redis-server is installed
    arn = str(secrets.create_secret(Name="redis-auth-c", SecretString=DEFAULT_PASSWORD)["ARN"])
    calls: list[bool] = []
    credentials = secrets_manager_credentials(arn, _counting(powertools_secret_fetcher(), calls))
    with LocalCluster("grpa", shards=3, replicas=0, tls=tls_files) as cluster:
        settings = ProbeSettings(
            host="127.0.0.1",
            port=cluster.node(1, 1).server.port,
            tls_ca_file=str(tls_files.ca_cert),
            region="grpa",
            replication_group_id="grpa",
            timeout_seconds=2.0,
            cluster_mode=True,
        )
        assert run_cluster_probe(settings, credentials, connect).status == "healthy"
        secrets.put_secret_value(SecretId=arn, SecretString=NEW_PASSWORD)
        for node in cluster.nodes:
            _rotate_server(node.server, NEW_PASSWORD)

        result = run_cluster_probe(settings, credentials, connect)
        assert result.status == "healthy", result.detail
        assert calls == [False, False, True]
