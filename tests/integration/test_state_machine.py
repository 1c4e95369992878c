"""The real probe ASL, run by moto's Step Functions interpreter, calling the real probe handler.

moto ignores DefinitionSubstitutions, so the test substitutes them (waits made short) exactly as
CloudFormation would. moto cannot run Lambda without Docker, so ``LambdaFunction.invoke`` is patched
to run ``ProbeFunction`` in-process through tools/invoke.py, with the environment template.yaml
declares (pointed at a real redis-server on loopback).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any, Literal
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from tests.conftest import probe_env
from tests.template.stack import asl_text, sam_template, substitute
from tools.invoke import invoke_function
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REGION = "us-east-1"
FUNCTION_NAME = "gds-failover-probe"


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


class ProbeLoop:
    """One state machine in moto, and the probe invocations it made."""

    def __init__(self, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
        self.env = env
        self.capsys = capsys
        self.events: list[dict[str, Any]] = []

    def _invoke(self, _fn: LambdaFunction, body: Any, _request: Any, response_headers: Any) -> str:
        event = json.loads(body) if body else {}
        self.events.append(event)
        try:
            result = invoke_function("ProbeFunction", event, {"ProbeFunction": self.env}, region=REGION)
        except Exception as error:  # what Lambda does with an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
        return json.dumps(result)

    def run(
        self, cadence: str, wait_seconds: str = "1", machine_type: Literal["EXPRESS", "STANDARD"] = "EXPRESS"
    ) -> dict[str, Any]:
        probes = sam_template()["Mappings"]["Cadence"][cadence]["ProbesPerExecution"]
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            mock.patch.object(LambdaFunction, "invoke", autospec=True, side_effect=self._invoke),
        ):
            iam = boto3.client("iam", region_name=REGION)
            role = iam.create_role(RoleName="probe", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            function_arn = boto3.client("lambda", region_name=REGION).create_function(
                FunctionName=FUNCTION_NAME,
                Runtime="python3.13",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": _zip()},
            )["FunctionArn"]
            definition = substitute(
                asl_text(),
                {
                    "Partition": "aws",
                    "ProbeFunctionArn": function_arn,
                    "ProbeWaitSeconds": wait_seconds,
                    "ProbesPerExecution": probes,
                },
            )
            sfn = boto3.client("stepfunctions", region_name=REGION)
            machine = sfn.create_state_machine(
                name="gds-failover-probe", definition=definition, roleArn=role, type=machine_type
            )["stateMachineArn"]
            execution = sfn.start_execution(
                stateMachineArn=machine, name="minute-1", input='{"source": "probe-schedule"}'
            )["executionArn"]
            deadline = time.monotonic() + 60
            while True:
                described = sfn.describe_execution(executionArn=execution)
                if described["status"] != "RUNNING" or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            history = sfn.get_execution_history(executionArn=execution)["events"]
        return {
            "status": described["status"],
            "output": json.loads(described.get("output") or "null"),
            "history": history,
            "probes": int(probes),
        }

    def health_datapoints(self) -> list[float]:
        """Every HealthCheckStatus value the probe put in an EMF blob on stdout."""
        values: list[float] = []
        for raw in self.capsys.readouterr().out.splitlines():
            line = raw.strip()
            if not line.startswith("{") or '"_aws"' not in line:
                continue
            blob = json.loads(line)
            directive = blob["_aws"]["CloudWatchMetrics"][0]
            assert directive["Namespace"] == "Custom/Redis"
            assert sorted(directive["Dimensions"][0]) == ["ReplicationGroupId", "service"]
            assert blob["service"] == "gds-failover"
            if "HealthCheckStatus" in blob:
                value = blob["HealthCheckStatus"]  # Powertools may write a list of datapoints
                values += [float(v) for v in value] if isinstance(value, list) else [float(value)]
        return values


@pytest.mark.parametrize(("cadence", "machine_type"), [("30", "EXPRESS"), ("15", "EXPRESS"), ("10", "STANDARD")])
def test_healthy_writer_is_probed_sixty_over_cadence_times(
    redis_factory: Callable[..., RedisServer],
    tls_files: TlsFiles,
    capsys: pytest.CaptureFixture[str],
    cadence: str,
    machine_type: Literal["EXPRESS", "STANDARD"],
) -> None:
    server = redis_factory("writer", password=None)
    loop = ProbeLoop(probe_env(server.port, tls_files, REPLICATION_GROUP_ID="rg-sfn"), capsys)
    run = loop.run(cadence, machine_type=machine_type)

    assert run["status"] == "SUCCEEDED"
    assert len(loop.events) == run["probes"] == 60 // int(cadence)
    assert [e["iteration"] for e in loop.events] == list(range(1, run["probes"] + 1))
    assert {e["source"] for e in loop.events} == {"probe-state-machine"}
    assert {e["execution"] for e in loop.events} == {"minute-1"}
    assert run["output"]["loop"]["iteration"] == run["probes"]
    assert run["output"]["last"]["result"]["status"] == "healthy"
    assert loop.health_datapoints() == [1.0] * run["probes"]
    with server.client() as client:
        beat = json.loads(client.get("gds-failover:heartbeat"))
    assert beat["region"] == REGION


def test_dead_writer_is_still_probed_every_time_and_reports_zero(
    redis_factory: Callable[..., RedisServer], tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    server = redis_factory("writer", password=None)
    server.kill()
    loop = ProbeLoop(probe_env(server.port, tls_files, REPLICATION_GROUP_ID="rg-sfn"), capsys)
    run = loop.run("20")

    assert run["status"] == "SUCCEEDED"
    assert len(loop.events) == run["probes"] == 3
    assert run["output"]["last"]["result"]["healthy"] == 0
    assert run["output"]["last"]["result"]["status"] == "refused"
    assert loop.health_datapoints() == [0.0] * 3


def test_a_crashing_probe_does_not_end_the_execution(
    redis_factory: Callable[..., RedisServer], tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    server = redis_factory("writer", password=DEFAULT_PASSWORD)
    env = probe_env(server.port, tls_files, REPLICATION_GROUP_ID="rg-sfn", PROBE_TIMEOUT_SECONDS="not-a-number")
    loop = ProbeLoop(env, capsys)
    run = loop.run("30")

    assert run["status"] == "SUCCEEDED"
    assert len(loop.events) == 2  # the first failure was caught; the second probe still ran
    assert run["output"]["last"]["Error"]  # the caught error is the iteration's outcome
    assert "PROBE_TIMEOUT_SECONDS" in run["output"]["last"]["Cause"]
    assert loop.health_datapoints() == []  # no datapoint: the writer alarm treats it as breaching
