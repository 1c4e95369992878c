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

from gdfailover.alarm import WAKEUP_WINDOW_SECONDS, AlarmNotification, parse_probe_wakeup
from tests.conftest import probe_env
from tests.template.stack import asl_text, sam_template, substitute
from tools.invoke import invoke_function
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles

pytestmark = [pytest.mark.redis, pytest.mark.slow]

REGION = "us-east-1"
FUNCTION_NAME = "gds-failover-probe"
PROMOTE_FUNCTION_NAME = "gds-failover-promote"
THRESHOLD = "55"


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
        self.wakeups: list[dict[str, Any]] = []

    def _invoke(self, fn: LambdaFunction, body: Any, _request: Any, response_headers: Any) -> str:
        event = json.loads(body) if body else {}
        if fn.function_name == PROMOTE_FUNCTION_NAME:
            self.wakeups.append(event)  # the wake-up's contract is checked by the test; nothing to run
            return "{}"
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
            arns = {
                name: boto3.client("lambda", region_name=REGION).create_function(
                    FunctionName=name,
                    Runtime="python3.13",
                    Role=role,
                    Handler="app.lambda_handler",
                    Code={"ZipFile": _zip()},
                )["FunctionArn"]
                for name in (FUNCTION_NAME, PROMOTE_FUNCTION_NAME)
            }
            definition = substitute(
                asl_text(),
                {
                    "Partition": "aws",
                    "ProbeFunctionArn": arns[FUNCTION_NAME],
                    "PromoteFunctionArn": arns[PROMOTE_FUNCTION_NAME],
                    "HeartbeatAgeThresholdSeconds": THRESHOLD,
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


def _stale_replica(redis_factory: Callable[..., RedisServer], *, link_up: bool) -> RedisServer:
    """A read-only replica holding a heartbeat written 120 s ago; its writer killed (link down) or alive."""
    writer = redis_factory("old-writer", password=None)
    replica = redis_factory("replica", password=None)
    beat = json.dumps({"region": "us-east-2", "ts": time.time() - 120, "seq": 1, "nonce": "x"})
    with writer.client() as client:
        client.set("gds-failover:heartbeat", beat)
    replica.replicate_from(writer)
    replica.wait_in_sync()
    if not link_up:
        writer.kill()
        deadline = time.monotonic() + 10
        with replica.client() as client:
            while client.info("replication").get("master_link_status") != "down" and time.monotonic() < deadline:
                time.sleep(0.05)
    return replica


def test_a_replica_reading_a_stale_heartbeat_on_a_dead_link_wakes_the_promoter(
    redis_factory: Callable[..., RedisServer], tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    replica = _stale_replica(redis_factory, link_up=False)
    loop = ProbeLoop(probe_env(replica.port, tls_files, REPLICATION_GROUP_ID="rg-sfn"), capsys)
    run = loop.run("30")

    assert run["status"] == "SUCCEEDED"
    assert len(loop.wakeups) == run["probes"] == 2  # every probe that reads it wakes; the promoter dedupes
    wakeup = loop.wakeups[0]
    assert wakeup["wakeup"] == "heartbeat-stale"
    assert (wakeup["source"], wakeup["execution"], wakeup["iteration"]) == ("probe-state-machine", "minute-1", 1)
    assert wakeup["probe"]["status"] == "read_only"
    assert wakeup["probe"]["heartbeat_age_s"] > float(THRESHOLD)
    assert wakeup["probe"]["replication_link_up"] == 0
    notification = parse_probe_wakeup(wakeup, trigger_alarm_name="t", region=REGION, account_id="123456789012")
    assert isinstance(notification, AlarmNotification)
    second = parse_probe_wakeup(loop.wakeups[1], trigger_alarm_name="t", region=REGION, account_id="123456789012")
    assert isinstance(second, AlarmNotification)
    # one incident: one decision per wake-up window (two probes may straddle a window boundary: then the
    # incident part of the id, the writer's last heartbeat, is still the same)
    windows = {int(w["probe"]["checked_at"] // WAKEUP_WINDOW_SECONDS) for w in loop.wakeups}
    if len(windows) == 1:
        assert second.message_id == notification.message_id
    else:
        assert second.message_id.rsplit("-", 1)[0] == notification.message_id.rsplit("-", 1)[0]


def test_a_replica_still_hearing_from_its_writer_does_not_wake_the_promoter(
    redis_factory: Callable[..., RedisServer], tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stale heartbeat but a live link (the writer region's probe stopped writing): the alarm's case."""
    replica = _stale_replica(redis_factory, link_up=True)
    loop = ProbeLoop(probe_env(replica.port, tls_files, REPLICATION_GROUP_ID="rg-sfn"), capsys)
    run = loop.run("30")

    assert run["status"] == "SUCCEEDED"
    assert run["output"]["last"]["result"]["heartbeat_age_s"] > float(THRESHOLD)
    assert loop.wakeups == []


def test_a_healthy_writer_never_wakes_the_promoter(
    redis_factory: Callable[..., RedisServer], tls_files: TlsFiles, capsys: pytest.CaptureFixture[str]
) -> None:
    server = redis_factory("writer", password=None)
    loop = ProbeLoop(probe_env(server.port, tls_files, REPLICATION_GROUP_ID="rg-sfn"), capsys)
    assert loop.run("30")["status"] == "SUCCEEDED"
    assert loop.wakeups == []
