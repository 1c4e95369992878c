"""make verify against a deployed pair in moto (CloudFormation stand-in stacks, CloudWatch alarms and
metrics, Route 53 zone and failover records) plus what moto lacks, behind the same boto3 clients:
the Global Datastore emulator, Route 53 health check statuses (moto always reports Success) and
TestDNSAnswer, and the promoter's Lambda (moto's needs Docker), which here parses the event with the
real parser and decides with the real decision table."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.response import StreamingBody
from botocore.validate import ParamValidator
from moto import mock_aws

from gdfailover.alarm import AlarmNotification, parse_sns_event
from gdfailover.decision import decide
from gdfailover.evidence import LocalHealth
from gdfailover.ledger import Pause, PromotionLedger
from tests.conftest import create_ledger_table
from tests.integration.aws_pair import (
    PRIMARY_ENDPOINT,
    PRIMARY_REGION,
    PRIMARY_RG,
    SAMCONFIG,
    SECONDARY_ENDPOINT,
    SECONDARY_REGION,
    SECONDARY_RG,
    deploy_stack,
    stack,
    write_samconfig,
)
from tests.unit.test_decision_table import BASELINE, POLICY, R53_ALIVE, R53_DEAD
from tools import verify
from tools.gds_emulator import GdsEmulator
from tools.localaws import put_writer_alarm

ACCOUNT = "210987654321"
GDS = "ldgnf-orders"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now() -> None:
    """Each test's "now": the promoter verify invokes checks a notification's age against the real clock, so
    a time taken when the module was imported goes stale in a long run (MAX_NOTIFICATION_AGE_SECONDS)."""
    global NOW  # noqa: PLW0603 - the helpers below read it
    NOW = datetime.now(UTC).replace(microsecond=0)


def _remember(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
    context["test_params"] = dict(params)


def _answer(model: Any, response: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    report = ParamValidator().validate(response, model.output_shape)
    assert not report.has_errors(), report.generate_report()
    return AWSResponse("", 200, HTTPHeaders(), None), response


@dataclass
class Pair:
    """What the fakes answer: health per health check id, the promoter's view of the writer."""

    healthy: dict[str, bool] = field(default_factory=dict)
    writer_alive: bool = True
    invocations: list[AlarmNotification] = field(default_factory=list)
    dns_answer: str = ""
    emulator: GdsEmulator = field(
        default_factory=lambda: GdsEmulator(
            gds_id=GDS,
            roles={PRIMARY_RG: (PRIMARY_REGION, "PRIMARY"), SECONDARY_RG: (SECONDARY_REGION, "SECONDARY")},
        )
    )

    def clients(self) -> Any:
        made: dict[tuple[str, str], Any] = {}

        def factory(service: str, region: str) -> Any:
            if (service, region) not in made:
                client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
                events = client.meta.events
                if service == "elasticache":
                    self.emulator.attach(client, only="DescribeGlobalReplicationGroups")
                if service == "route53":
                    events.register("before-parameter-build.route53", _remember)
                    events.register("before-call.route53.GetHealthCheckStatus", self._health_check_status)
                    events.register("before-call.route53.TestDNSAnswer", self._test_dns_answer)
                if service == "lambda":
                    events.register("before-parameter-build.lambda", _remember)
                    events.register("before-call.lambda.Invoke", self._invoke(region))
                made[service, region] = client
            return made[service, region]

        return factory

    def _health_check_status(self, model: Any, context: dict[str, Any], **kwargs: Any) -> Any:
        status = "Success: HTTP Status Code 200" if self.healthy[context["test_params"]["HealthCheckId"]] else "Failure"
        stamp = datetime.now(UTC)
        observations = [
            {
                "Region": region,
                "IPAddress": f"15.177.{index}.1",
                "StatusReport": {"Status": status, "CheckedTime": stamp},
            }
            for index, region in enumerate(["us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1"])
        ]
        return _answer(model, {"HealthCheckObservations": observations})

    def _test_dns_answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> Any:
        params = context["test_params"]
        return _answer(
            model,
            {
                "Nameserver": "ns-1.awsdns-01.org",
                "RecordName": params["RecordName"],
                "RecordType": params["RecordType"],
                "RecordData": [self.dns_answer],
                "ResponseCode": "NOERROR",
                "Protocol": "UDP",
            },
        )

    def _invoke(self, region: str) -> Any:
        def invoke(model: Any, context: dict[str, Any], **kwargs: Any) -> Any:
            _, parameters = stack(region)
            outputs, _ = stack(region)
            (notification,) = parse_sns_event(json.loads(context["test_params"]["Payload"]))
            assert isinstance(notification, AlarmNotification)
            self.invocations.append(notification)
            policy = replace(
                POLICY,
                account_id=ACCOUNT,
                region=region,
                trigger_alarm_names=frozenset({outputs["PromotionTriggerAlarmName"]}),
                mode=parameters["PromotionMode"],
            )
            gathered_at = datetime.now(UTC)
            evidence = replace(
                BASELINE,
                notification=notification,
                gathered_at=gathered_at,
                local=LocalHealth(1.0, gathered_at - timedelta(seconds=30)),
                writer_signals=(R53_ALIVE if self.writer_alive else R53_DEAD,),
            )
            decision = decide(evidence, policy)
            body = json.dumps(
                {
                    "results": [
                        {"decision": decision.outcome.value, "code": decision.code, "reasons": list(decision.reasons)}
                    ]
                }
            ).encode()
            response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
            return AWSResponse("", 200, HTTPHeaders(), None), response

        return invoke


def put_probe_metrics(region: str, group: str, health: float, heartbeat_age: float | None, minutes: int = 5) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=region)
    dimensions = [{"Name": "service", "Value": "gds-failover"}, {"Name": "ReplicationGroupId", "Value": group}]
    outputs, _ = stack(region)
    data: list[dict[str, Any]] = []
    for minute in range(1, minutes + 1):
        stamp = NOW - timedelta(minutes=minute)
        data += [
            {"MetricName": "HealthCheckStatus", "Dimensions": dimensions, "Timestamp": stamp, "Value": health},
            {"MetricName": "Reachable", "Dimensions": dimensions, "Timestamp": stamp, "Value": 1.0},
            {"MetricName": "ProbeLatency", "Dimensions": dimensions, "Timestamp": stamp, "Value": 3.0},
        ]
        if heartbeat_age is not None:
            data.append(
                {"MetricName": "HeartbeatAge", "Dimensions": dimensions, "Timestamp": stamp, "Value": heartbeat_age}
            )
    cloudwatch.put_metric_data(Namespace="Custom/Redis", MetricData=data)
    executions = [
        {
            "MetricName": "ExecutionsStarted",
            "Dimensions": [{"Name": "StateMachineArn", "Value": outputs["ProbeStateMachineArn"]}],
            "Timestamp": NOW - timedelta(minutes=minute),
            "Value": 1.0,
        }
        for minute in range(1, minutes + 1)
    ]
    cloudwatch.put_metric_data(Namespace="AWS/States", MetricData=executions)


def alarm(region: str, name: str, state: str) -> None:
    put_writer_alarm(region, name, state, "test")


@pytest.fixture
def pair(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Pair, Path]]:
    """A healthy pair: the writer in us-east-1 (primary), the replica in us-west-2."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    with mock_aws():
        route53 = boto3.client("route53")
        zone_id = route53.create_hosted_zone(
            Name="internal",
            CallerReference="verify-test",
            HostedZoneConfig={"Comment": "test", "PrivateZone": True},
            VPC={"VPCRegion": PRIMARY_REGION, "VPCId": "vpc-0a1b2c3d4e5f60718"},
        )["HostedZone"]["Id"].split("/")[-1]
        for region, group, endpoint, role in (
            (PRIMARY_REGION, PRIMARY_RG, PRIMARY_ENDPOINT, "PRIMARY"),
            (SECONDARY_REGION, SECONDARY_RG, SECONDARY_ENDPOINT, "SECONDARY"),
        ):
            deploy_stack(
                region,
                {
                    "GlobalReplicationGroupId": GDS,
                    "ReplicationGroupId": group,
                    "RedisPrimaryEndpoint": endpoint,
                    "FailoverRole": role,
                    "HostedZoneId": zone_id,
                    "PromotionMode": "dry-run",
                },
            )
        fake = Pair()
        for region, writer in ((PRIMARY_REGION, True), (SECONDARY_REGION, False)):
            outputs, parameters = stack(region)
            create_ledger_table(outputs["LedgerTableName"], region)
            fake.healthy[outputs["HealthCheckId"]] = writer
            alarm(region, outputs["WriterAlarmName"], "OK" if writer else "ALARM")
            alarm(region, outputs["PromotionTriggerAlarmName"], "OK")
            alarm(region, "gds-failover-probe-not-running", "OK")
            put_probe_metrics(region, parameters["ReplicationGroupId"], 1.0 if writer else 0.0, None if writer else 8.0)
            route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Changes": [
                        {
                            "Action": "CREATE",
                            "ResourceRecordSet": {
                                "Name": "redis.internal",
                                "Type": "CNAME",
                                "TTL": 10,
                                "SetIdentifier": f"{region}-{parameters['ReplicationGroupId']}",
                                "Failover": parameters["FailoverRole"],
                                "HealthCheckId": outputs["HealthCheckId"],
                                "ResourceRecords": [{"Value": parameters["RedisPrimaryEndpoint"]}],
                            },
                        }
                    ]
                },
            )
        yield fake, write_samconfig(tmp_path, SAMCONFIG)


def run(pair: tuple[Pair, Path], *argv: str) -> tuple[int, list[str]]:
    fake, samconfig = pair
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify.main(
            ["--config-env", "primary", *argv], clients=fake.clients(), samconfig=samconfig, now=lambda: NOW
        )
    return code, out.getvalue().splitlines()


def test_a_healthy_pair_passes(pair: tuple[Pair, Path]) -> None:
    code, lines = run(pair)
    assert code == 0, "\n".join(lines)
    for expected in (
        "ok    stack primary: gds-failover in us-east-1 is CREATE_COMPLETE",
        "ok    stack secondary: gds-failover in us-west-2 is CREATE_COMPLETE",
        f"ok    datastore: {GDS} is available; writer {PRIMARY_RG} in {PRIMARY_REGION}",
        "ok    probe runs primary: 5 probe executions in the last 10 min, none failed",
        "ok    metrics primary: HealthCheckStatus 1, Reachable 1, ProbeLatency 3 ms",
        "ok    metrics secondary: HealthCheckStatus 0, Reachable 1, ProbeLatency 3 ms, HeartbeatAge 8 s",
        "ok    alarms primary: writer alarm OK, trigger OK, 3 alarms, none else in ALARM",
        "ok    pause primary: automatic promotion is not paused",
        "ok    pause secondary: automatic promotion is not paused",
        "ok    alarms secondary: writer alarm ALARM, trigger OK, 3 alarms, none else in ALARM",
        f"ok    route 53 answer: redis.internal -> {PRIMARY_ENDPOINT} (the writer, {PRIMARY_RG}); derived from",
        "ok    promoter secondary: sent ALARM of gds-failover-trigger-orders-usw2 (mode dry-run): "
        "refuse (writer-alive)",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, "\n".join(lines))
    assert any(line.startswith("ok    health check primary: ") and "healthy (4/4 checkers)" in line for line in lines)
    assert any(
        line.startswith("ok    health check secondary: ") and "unhealthy (0/4 checkers)" in line for line in lines
    )
    assert lines[-1].startswith("verify primary: healthy (")
    (notification,) = pair[0].invocations  # only the replica's promoter is asked
    assert notification.account_id == ACCOUNT
    assert notification.region == SECONDARY_REGION
    assert notification.new_state == "ALARM"
    assert abs((notification.state_change_time - NOW).total_seconds()) < 1  # freshly stamped


def test_auto_mode_sends_an_ok_transition_unless_asked(pair: tuple[Pair, Path]) -> None:
    deploy_stack(SECONDARY_REGION, {"PromotionMode": "auto"})
    code, lines = run(pair)
    assert code == 0, lines
    assert (
        "ok    promoter secondary: sent OK of gds-failover-trigger-orders-usw2 (mode auto): noop (not-alarm): "
        "it runs and accepts its own trigger alarm"
    ) in lines
    assert pair[0].invocations[-1].new_state == "OK"

    code, lines = run(pair, "--promoter-alarm")
    assert code == 0
    assert pair[0].invocations[-1].new_state == "ALARM"


def test_a_promoter_that_would_promote_a_healthy_pair_fails(pair: tuple[Pair, Path]) -> None:
    pair[0].writer_alive = False  # the promoter (wrongly) sees the writer dead
    code, lines = run(pair)
    assert code == 1
    assert any(
        line.startswith("FAIL  promoter secondary: sent ALARM") and "PROMOTE while the writer is healthy" in line
        for line in lines
    )


def test_broken_signals_each_fail(pair: tuple[Pair, Path]) -> None:
    outputs, _ = stack(PRIMARY_REGION)
    alarm(PRIMARY_REGION, outputs["WriterAlarmName"], "ALARM")
    alarm(PRIMARY_REGION, "gds-failover-probe-not-running", "ALARM")
    pair[0].healthy[outputs["HealthCheckId"]] = False
    code, lines = run(pair)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    assert f"FAIL  alarms primary: {outputs['WriterAlarmName']} is ALARM, expected OK in the writer's region" in fails
    assert "FAIL  alarms primary: also in ALARM: gds-failover-probe-not-running" in fails
    assert any(line.startswith("FAIL  health check primary: ") and "expected healthy" in line for line in fails)
    # both records unhealthy: Route 53 answers PRIMARY, which is still the writer's endpoint
    assert any(line.startswith(f"ok    route 53 answer: redis.internal -> {PRIMARY_ENDPOINT}") for line in lines)


def test_dns_pointing_at_the_replica_fails(pair: tuple[Pair, Path]) -> None:
    primary_outputs, _ = stack(PRIMARY_REGION)
    pair[0].healthy[primary_outputs["HealthCheckId"]] = False
    secondary_outputs, _ = stack(SECONDARY_REGION)
    pair[0].healthy[secondary_outputs["HealthCheckId"]] = True
    code, lines = run(pair)
    assert code == 1
    assert any(
        line.startswith(
            f"FAIL  route 53 answer: redis.internal answers {SECONDARY_ENDPOINT}, not the writer's endpoint"
        )
        for line in lines
    )


def test_a_replica_without_metrics_fails(pair: tuple[Pair, Path]) -> None:
    # the secondary's stack now names a group with no probe datapoints
    deploy_stack(SECONDARY_REGION, {"ReplicationGroupId": "orders-usw2b"})
    pair[0].emulator.roles = {PRIMARY_RG: (PRIMARY_REGION, "PRIMARY"), "orders-usw2b": (SECONDARY_REGION, "SECONDARY")}
    code, lines = run(pair)
    assert code == 1
    assert (
        "FAIL  metrics secondary: no HealthCheckStatus, Reachable, ProbeLatency, HeartbeatAge datapoint "
        "for orders-usw2b in the last 10 min"
    ) in lines


def test_a_public_zone_is_asked_with_test_dns_answer(pair: tuple[Pair, Path]) -> None:
    zone_id = boto3.client("route53").create_hosted_zone(Name="corp.test", CallerReference="public")["HostedZone"]["Id"]
    for region in (PRIMARY_REGION, SECONDARY_REGION):
        deploy_stack(region, {"HostedZoneId": zone_id.split("/")[-1]})
    pair[0].dns_answer = PRIMARY_ENDPOINT
    code, lines = run(pair)
    assert code == 0, lines
    assert (
        f"ok    route 53 answer: redis.internal -> {PRIMARY_ENDPOINT} (the writer, {PRIMARY_RG}); TestDNSAnswer"
        in lines
    )


def test_a_missing_stack_and_usage_errors(pair: tuple[Pair, Path]) -> None:
    boto3.client("cloudformation", region_name=SECONDARY_REGION).delete_stack(StackName="gds-failover")
    code, lines = run(pair)
    assert code == 1
    assert (
        "FAIL  stack secondary: gds-failover is not deployed in us-west-2 (make deploy CONFIG_ENV=secondary)" in lines
    )
    code, lines = run(pair, "--minutes", "0")
    assert code == 2
    assert lines == ["verify: --minutes must be between 1 and 180"]


def test_an_unreachable_region_is_an_error_line_not_a_traceback(pair: tuple[Pair, Path]) -> None:
    pair[0].emulator.unreachable_regions = {PRIMARY_REGION, SECONDARY_REGION}
    code, lines = run(pair)
    assert code == 2
    assert any(line.startswith("error datastore: from us-east-1: ") for line in lines)
    assert not any("Traceback" in line for line in lines)


def test_an_active_pause_is_a_warning_with_who_why_and_until_and_an_expired_one_is_not(
    pair: tuple[Pair, Path],
) -> None:
    outputs, _ = stack(SECONDARY_REGION)
    ledger = PromotionLedger(boto3.client("dynamodb", region_name=SECONDARY_REGION), outputs["LedgerTableName"])
    ledger.pause(GDS, Pause("game day", "arn:aws:iam::1:user/ana", NOW, NOW + timedelta(minutes=90)))
    code, lines = run(pair)
    assert code == 0, "\n".join(lines)  # deliberate: a warning, not a failure
    until = (NOW + timedelta(minutes=90)).isoformat()
    assert (
        f"warn  pause secondary: automatic promotion PAUSED until {until} (90 min left) by arn:aws:iam::1:user/ana: "
        "game day (make resume CONFIG_ENV=secondary)"
    ) in lines
    ledger.pause(GDS, Pause("old", "me", NOW - timedelta(hours=2), NOW - timedelta(hours=1)))
    code, lines = run(pair)
    expired = (NOW - timedelta(hours=1)).isoformat()
    assert f"ok    pause secondary: automatic promotion is not paused (a pause expired at {expired})" in lines
