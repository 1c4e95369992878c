"""HEALTH_METRIC_PUBLISHER=api: HealthCheckStatus goes through PutMetricData (moto), not EMF; if the call
fails, the EMF copy is emitted instead so the Route 53-facing alarm never loses the datapoint."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from types import ModuleType

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tools.invoke import (
    apply_env_vars_file,
    emf_metrics,
    function_spec,
    import_handler_module,
    lambda_context,
    lambda_environment,
)
from tools.localredis import RedisServer

REGION = "us-east-1"


@pytest.fixture
def api_probe(redis_factory: Callable[..., RedisServer]) -> Iterator[ModuleType]:
    server = redis_factory("plain", tls=False, password=None)
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_TLS": "false",
        "REPLICATION_GROUP_ID": "rg-api",
        "HEALTH_METRIC_PUBLISHER": "api",
    }
    with mock_aws():
        spec = function_spec("ProbeFunction", region=REGION)
        with lambda_environment(spec, apply_env_vars_file(spec, {"ProbeFunction": env}), REGION):
            module, _ = import_handler_module(spec)
            module.test_context = lambda_context(spec, REGION)
            yield module


def _run(module: ModuleType) -> tuple[dict[str, object], dict[str, float]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = module.lambda_handler({"source": "test"}, module.test_context)
    return result, emf_metrics(out.getvalue())


def test_health_goes_through_put_metric_data_with_the_alarm_dimensions(api_probe: ModuleType) -> None:
    result, emf = _run(api_probe)
    assert result["status"] == "healthy"
    assert "HealthCheckStatus" not in emf, "published twice would be harmless but is not the contract"
    assert emf["Reachable"] == 1
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(
        Namespace="Custom/Redis", MetricName="HealthCheckStatus"
    )["Metrics"]
    assert len(listed) == 1
    assert {d["Name"]: d["Value"] for d in listed[0]["Dimensions"]} == {
        "service": "gds-failover",
        "ReplicationGroupId": "rg-api",
    }


def test_a_failed_put_metric_data_falls_back_to_emf(api_probe: ModuleType) -> None:
    with Stubber(api_probe.cloudwatch) as stub:
        stub.add_client_error("put_metric_data", service_error_code="Throttling", http_status_code=400)
        result, emf = _run(api_probe)
        stub.assert_no_pending_responses()
    assert result["healthy"] == 1
    assert emf["HealthCheckStatus"] == 1
