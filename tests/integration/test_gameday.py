"""make gameday on a pair in moto, the chain played back from a script.

moto holds what it implements: the stacks (CloudFormation stand-ins of template.yaml's outputs), STS,
the Route 53 zone and failover records, and FIS (templates, StartExperiment, GetExperiment's state
machine, StopExperiment). What moto lacks or cannot make move (DescribeAlarmHistory, DescribeEvents,
Global Datastores, node roles, GetMetricData on a schedule, FilterLogEvents on the promoter's log group,
Route 53 health statuses) is answered from a :class:`World` timeline through botocore's before-call hook;
every answer is validated against the real API model's output shape, and botocore validates every
request against the input shape before the hook sees it. Time is a fake clock that ``sleep`` advances.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from moto import mock_aws

from tests.integration.aws_pair import (
    GDS_ID,
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
from tools import gameday as _package  # noqa: F401  (the package under test)
from tools.checks import Finding, ok
from tools.gameday.__main__ import Clock, main
from tools.samconfig import SamConfig

ACCOUNT = "123456789012"  # moto's default account


def healthy_pair(*_: Any) -> list[Finding]:
    """The verify gate, passed: tested with the real verify in test_gameday_refuses_a_pair_that_is_not_healthy."""
    return [ok("verify", "healthy pair")]


@dataclass
class FakeClock:
    at: datetime
    slept: float = 0.0
    on_sleep: Callable[[float], None] | None = None

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(self.slept)
        self.slept += seconds
        self.at += timedelta(seconds=seconds)


@dataclass
class World:
    """The chain as AWS would show it, as a function of seconds since the experiment started."""

    start: datetime
    clock: FakeClock
    mode: str = "dry-run"
    #: (seconds, region, alarm name, old, new): alarm history items, visible 5 s after they happen
    alarm_changes: list[tuple[float, str, str, str, str]] = field(default_factory=list)
    #: (seconds, region, decision record): promoter log lines, visible 10 s after
    decisions: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    #: (seconds, region, message): ElastiCache events, visible 20 s after
    events: list[tuple[float, str, str]] = field(default_factory=list)
    writer_probe_fails_at: float = 40.0
    writer_probe_recovers_at: float | None = None
    primary_node_moves_at: float | None = None
    peer_is_writer_at: float | None = None
    peer_healthy_at: float | None = None
    writer_unhealthy_at: float | None = 170.0
    broken_reads: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def elapsed(self) -> float:
        return (self.clock.now() - self.start).total_seconds()

    def after(self, seconds: float | None) -> bool:
        return seconds is not None and self.elapsed() >= seconds

    # --- answers, by operation ------------------------------------------------------------------------
    def GetMetricData(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        results = []
        minute = self.clock.now().replace(second=0, microsecond=0)
        writer = region == PRIMARY_REGION
        for query in params["MetricDataQueries"]:
            name = query["MetricStat"]["Metric"]["MetricName"]
            writer_down = self.after(self.writer_probe_fails_at) and not self.after(self.writer_probe_recovers_at)
            if name == "HeartbeatAge":  # the writer's last heartbeat ages from the fault on
                value = 5.0 + self.elapsed() if self.after(self.peer_is_writer_at) is False and writer_down else 5.0
            elif writer:
                value = 0.0 if writer_down else 1.0
            else:
                value = 1.0 if self.after(self.peer_is_writer_at) else (0.0 if name == "HealthCheckStatus" else 1.0)
            results.append({"Id": query["Id"], "Label": name, "Timestamps": [minute], "Values": [value]})
        return {"MetricDataResults": results}

    def DescribeAlarmHistory(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        items = [
            {
                "AlarmName": name,
                "AlarmType": "MetricAlarm",
                "Timestamp": self.start + timedelta(seconds=at),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps({"oldState": {"stateValue": old}, "newState": {"stateValue": new}}),
            }
            for at, where, name, old, new in self.alarm_changes
            if where == region and name == params["AlarmName"] and self.after(at + 5)
        ]
        return {"AlarmHistoryItems": items}

    def FilterLogEvents(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        events = [
            {
                "logStreamName": "2026/12/01/[$LATEST]abc",
                "timestamp": int((self.start + timedelta(seconds=at)).timestamp() * 1000),
                "message": json.dumps(
                    {"level": "INFO", "message": f"promotion decision: {record['decision']}", "decision_record": record}
                ),
                "ingestionTime": int((self.start + timedelta(seconds=at + 2)).timestamp() * 1000),
                "eventId": f"{region}-{at}",
            }
            for at, where, record in self.decisions
            if where == region and self.after(at + 10)
        ]
        return {"events": events, "searchedLogStreams": []}

    def DescribeEvents(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "Events": [
                {
                    "SourceIdentifier": params["SourceIdentifier"],
                    "SourceType": "replication-group",
                    "Message": message,
                    "Date": self.start + timedelta(seconds=at),
                }
                for at, where, message in self.events
                if where == region and self.after(at + 20)
            ]
        }

    def DescribeGlobalReplicationGroups(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        moved = self.after(self.peer_is_writer_at)
        promoting = self.peer_is_writer_at is not None and self.after(self.peer_is_writer_at - 50) and not moved
        members = [
            {"ReplicationGroupId": PRIMARY_RG, "ReplicationGroupRegion": PRIMARY_REGION},
            {"ReplicationGroupId": SECONDARY_RG, "ReplicationGroupRegion": SECONDARY_REGION},
        ]
        for member in members:
            is_primary = (member["ReplicationGroupId"] == SECONDARY_RG) == moved
            member.update({"Role": "PRIMARY" if is_primary else "SECONDARY", "Status": "associated"})
        return {
            "GlobalReplicationGroups": [
                {
                    "GlobalReplicationGroupId": GDS_ID,
                    "Status": "modifying" if promoting else "available",
                    "Members": members,
                }
            ]
        }

    def DescribeReplicationGroups(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        moved = self.after(self.primary_node_moves_at)
        members = [
            {
                "CacheClusterId": f"{PRIMARY_RG}-00{index}",
                "CurrentRole": "primary" if (index == 1) != moved else "replica",
                "PreferredAvailabilityZone": zone,
            }
            for index, zone in ((1, "us-east-1a"), (2, "us-east-1b"))
        ]
        return {
            "ReplicationGroups": [
                {
                    "ReplicationGroupId": params["ReplicationGroupId"],
                    "Status": "available",
                    "MultiAZ": "enabled",
                    "AutomaticFailover": "enabled",
                    "NodeGroups": [{"NodeGroupId": "0001", "NodeGroupMembers": members}],
                }
            ]
        }

    def GetHealthCheckStatus(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        writer_id, peer_id = stack(PRIMARY_REGION)[0]["HealthCheckId"], stack(SECONDARY_REGION)[0]["HealthCheckId"]
        healthy = {
            writer_id: not self.after(self.writer_unhealthy_at),
            peer_id: self.after(self.peer_healthy_at),
        }[params["HealthCheckId"]]
        status = "Success: HTTP Status Code 200" if healthy else "Failure: the alarm is in ALARM state"
        return {
            "HealthCheckObservations": [
                {"Region": checker, "IPAddress": f"15.177.{index}.1", "StatusReport": {"Status": status}}
                for index, checker in enumerate(["us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1"])
            ]
        }

    # --- wiring ---------------------------------------------------------------------------------------
    SCRIPTED = (
        ("cloudwatch", "GetMetricData"),
        ("cloudwatch", "DescribeAlarmHistory"),
        ("logs", "FilterLogEvents"),
        ("elasticache", "DescribeEvents"),
        ("elasticache", "DescribeGlobalReplicationGroups"),
        ("elasticache", "DescribeReplicationGroups"),
        ("route53", "GetHealthCheckStatus"),
    )

    def clients(self) -> Callable[[str, str], Any]:
        made: dict[tuple[str, str], Any] = {}

        def factory(service: str, region: str) -> Any:
            if (service, region) not in made:
                client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
                client.meta.events.register(f"before-parameter-build.{service}", _remember)
                for scripted_service, operation in self.SCRIPTED:
                    if scripted_service == service:
                        client.meta.events.register(
                            f"before-call.{service}.{operation}", self._handler(operation, region)
                        )
                made[service, region] = client
            return made[service, region]

        return factory

    def _handler(self, operation: str, region: str) -> Callable[..., Any]:
        def handle(model: Any, context: dict[str, Any], **_: Any) -> Any:
            self.calls.append(f"{operation} {region}")
            if operation in self.broken_reads:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, operation)
            response = getattr(self, operation)(region, context["test_params"])
            report = ParamValidator().validate(response, model.output_shape)
            assert not report.has_errors(), report.generate_report()
            return AWSResponse("", 200, HTTPHeaders(), None), response

        return handle


def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["test_params"] = dict(params)


def record(decision: str, *, acted: bool, mode: str, code: str = "writer-gone") -> dict[str, Any]:
    return {
        "decision": decision,
        "code": code,
        "reasons": [f"{decision}: the writer's own probes say it is down"],
        "mode": mode,
        "acted": acted,
        "would_promote": decision == "promote",
        "region": SECONDARY_REGION,
    }


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Path]:
    with deployed_pair(tmp_path) as samconfig:
        yield samconfig


@contextlib.contextmanager
def deployed_pair(tmp_path: Path) -> Iterator[Path]:
    """Two deployed stand-in stacks (writer us-east-1, replica us-west-2), their zone and failover records,
    and the game day's FIS templates in the writer's region."""
    with mock_aws():
        route53 = boto3.client("route53")
        zone_id = route53.create_hosted_zone(
            Name="internal",
            CallerReference="gameday-test",
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
                    "GlobalReplicationGroupId": GDS_ID,
                    "ReplicationGroupId": group,
                    "RedisPrimaryEndpoint": endpoint,
                    "FailoverRole": role,
                    "HostedZoneId": zone_id,
                    "PromotionMode": "dry-run",
                },
            )
            outputs, _ = stack(region)
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
                                "SetIdentifier": f"{region}-{group}",
                                "Failover": role,
                                "HealthCheckId": outputs["HealthCheckId"],
                                "ResourceRecords": [{"Value": endpoint}],
                            },
                        }
                    ]
                },
            )
        create_fis_templates()
        yield write_samconfig(tmp_path, SAMCONFIG)


def create_fis_templates(zone: str = "us-east-1a") -> None:
    """The two templates as examples/gameday/template.yaml defines them (the properties make gameday reads)."""
    fis = boto3.client("fis", region_name=PRIMARY_REGION)
    role = f"arn:aws:iam::{ACCOUNT}:role/gameday-fis"
    stop = [{"source": "aws:cloudwatch:alarm", "value": f"arn:aws:cloudwatch:{PRIMARY_REGION}:{ACCOUNT}:alarm:abort"}]
    fis.create_experiment_template(
        clientToken="in-region",
        description="gds-failover in-region-failover",
        roleArn=role,
        stopConditions=stop,
        targets={
            "WriterReplicationGroup": {
                "resourceType": "aws:elasticache:replicationgroup",
                "resourceTags": {"gds-failover-gameday": "in-region-failover"},
                "parameters": {"availabilityZoneIdentifier": zone},
                "selectionMode": "ALL",
            }
        },
        actions={
            "interrupt-az-power": {
                "actionId": "aws:elasticache:replicationgroup-interrupt-az-power",
                "parameters": {"duration": "PT10M"},
                "targets": {"ReplicationGroups": "WriterReplicationGroup"},
            }
        },
        tags={"gds-failover-experiment": "in-region-failover", "gds-failover-datastore": GDS_ID},
    )
    fis.create_experiment_template(
        clientToken="unreachable",
        description="gds-failover writer-unreachable",
        roleArn=role,
        stopConditions=stop,
        targets={
            "WriterSubnets": {
                "resourceType": "aws:ec2:subnet",
                "resourceTags": {"gds-failover-gameday": "writer-unreachable"},
                "selectionMode": "ALL",
            }
        },
        actions={
            "disrupt-connectivity": {
                "actionId": "aws:network:disrupt-connectivity",
                "parameters": {"duration": "PT10M", "scope": "all"},
                "targets": {"Subnets": "WriterSubnets"},
            }
        },
        tags={"gds-failover-experiment": "writer-unreachable", "gds-failover-datastore": GDS_ID},
    )


def set_mode(mode: str) -> None:
    deploy_stack(SECONDARY_REGION, {"PromotionMode": mode})


def experiments() -> list[dict[str, Any]]:
    fis = boto3.client("fis", region_name=PRIMARY_REGION)
    return [fis.get_experiment(id=item["id"])["experiment"] for item in fis.list_experiments()["experiments"]]


def run(
    samconfig: Path,
    world: World,
    *argv: str,
    preflight: Any = healthy_pair,
    confirm: str | None = None,
    clients: Any = None,
) -> tuple[int, str]:
    lines: list[str] = []
    with on_the_world_clock(world):
        code = main(
            [
                "--config-env",
                "primary",
                *argv,
                "--confirm",
                confirm or f"{ACCOUNT}/{GDS_ID}",
                "--report-dir",
                str(samconfig.parent / "reports"),
            ],
            clients=clients or world.clients(),
            samconfig=samconfig,
            clock=Clock(now=world.clock.now, sleep=world.clock.sleep),
            preflight=preflight,
            interactive=False,
            out=lines.append,
        )
    return code, "\n".join(lines)


def on_the_world_clock(world: World) -> Any:
    """moto's FIS stamps experiments and actions with its clock: make it the world's."""
    return mock.patch("moto.fis.models.unix_time", side_effect=lambda: world.clock.now().timestamp())


def new_world(**kwargs: Any) -> World:
    start = datetime.now(UTC).replace(microsecond=0)
    return World(start=start, clock=FakeClock(start), **kwargs)


def report(samconfig: Path) -> dict[str, Any]:
    (path,) = (samconfig.parent / "reports").glob("gameday-*.json")
    return dict(json.loads(path.read_text(encoding="utf-8")))


def unreachable_world(mode: str) -> World:
    acted = mode == "auto"
    world = new_world(
        mode=mode,
        alarm_changes=[
            (95.0, SECONDARY_REGION, "gds-failover-trigger-orders-usw2", "OK", "ALARM"),
            (150.0, PRIMARY_REGION, "gds-failover-writer-orders-use1-p60", "OK", "ALARM"),
        ],
        decisions=[(100.0, SECONDARY_REGION, record("promote", acted=acted, mode=mode))],
    )
    if acted:
        world.peer_is_writer_at, world.peer_healthy_at = 160.0, 125.0
    return world


def test_writer_unreachable_in_dry_run_ends_on_the_decision_and_stops_the_experiment(pair: Path) -> None:
    world = unreachable_world("dry-run")
    code, out = run(pair, world, "--experiment", "writer-unreachable")
    assert code == 0, out
    assert "expected: a promote decision record from the peer (dry-run: not acted) and no failover" in out
    assert "-> PASS" in out
    # the drill's timeline format, wall clock
    assert "Timeline (wall clock, T+0 = fault injected at" in out
    # (moto stamps the FIS action's start with the real clock, up to a second after the world's start)
    assert re.search(r"\n  T  \+9[45]s  alarm    B        gds-failover-trigger-orders-usw2 OK -> ALARM\n", out)
    assert re.search(r"\n  T +\+(99|100)s  PROMOTER B        promote \(writer-gone\) mode=dry-run\n", out)
    # measured beside the model: the trigger at T+95, the decision at T+100 (counted from T+0: the
    # state machine's wake-up may reach the promoter before the alarm)
    document = report(pair)
    steps = {step["step"]: step for step in document["steps"]}
    assert steps["promotion trigger -> ALARM (B)"]["measured_t_plus_s"] == pytest.approx(95, abs=1)
    assert steps["promoter's promote decision record (B)"]["measured_step_s"] == pytest.approx(100, abs=1)
    assert steps["promotion trigger -> ALARM (B)"]["model_t_plus_s"]["worst"] > 0
    assert steps["Global Datastore writer is B"]["measured_t_plus_s"] is None
    assert document["passed"] is True
    assert document["measured"] == {}
    # it stopped watching at the decision (seen at T+110), and the experiment no longer runs
    assert world.elapsed() < 140
    (experiment,) = experiments()
    assert experiment["state"]["status"] in ("stopped", "completed")
    assert "Going back: nothing to undo" in out


def test_writer_unreachable_in_auto_fails_over_once_and_says_how_to_go_back(pair: Path) -> None:
    set_mode("auto")
    world = unreachable_world("auto")
    code, out = run(pair, world, "--experiment", "writer-unreachable")
    assert code == 0, out
    assert "PromotionMode=auto: the peer WILL promote" in out
    assert "redis.internal answers master.orders-usw2" in out
    document = report(pair)
    steps = {step["step"]: step for step in document["steps"]}
    assert steps["Global Datastore writer is B"]["measured_t_plus_s"] == pytest.approx(160, abs=10)
    assert steps["redis.internal answers B (before client TTL)"]["measured_t_plus_s"] == pytest.approx(170, abs=10)
    assert document["measured"]["promotion_s"]["samples"] == 1
    assert "python -m tools.switchover --global-replication-group-id ldgnf-orders" in out
    assert f"--target-region {PRIMARY_REGION} --target-replication-group-id {PRIMARY_RG}" in out


def test_auto_mode_that_never_promotes_times_out_and_fails(pair: Path) -> None:
    set_mode("auto")
    world = unreachable_world("auto")
    world.peer_is_writer_at = world.peer_healthy_at = None
    code, out = run(pair, world, "--experiment", "writer-unreachable", "--timeout-minutes", "5")
    assert code == 1, out
    assert "-> FAIL" in out
    assert "the Global Datastore's writer is orders-use1, not orders-usw2" in out
    assert world.elapsed() >= 300
    assert experiments()[0]["state"]["status"] in ("stopped", "completed")


def test_in_region_failover_passes_without_a_cross_region_promotion(pair: Path) -> None:
    world = new_world(
        primary_node_moves_at=35.0,
        writer_probe_fails_at=20.0,
        writer_probe_recovers_at=70.0,
        writer_unhealthy_at=None,
        events=[(33.0, PRIMARY_REGION, f"Failover from primary node {PRIMARY_RG}-001 to replica node 002 completed")],
        decisions=[(90.0, SECONDARY_REGION, record("hold", acted=False, mode="dry-run", code="in-region-failover"))],
    )
    code, out = run(pair, world, "--experiment", "in-region-failover")
    assert code == 0, out
    assert f"primary node {PRIMARY_RG}-001 (us-east-1a) -> {PRIMARY_RG}-002 (us-east-1b)" in out
    assert "ElastiCache event: Failover from primary node" in out
    assert "hold (in-region-failover)" in out
    assert "in-region failover, no cross-region promotion -> PASS" in out
    # a quiet minute says the watch goes on, and where the chain stands
    assert "(watching: experiment completed, writer orders-use1, record -> master.orders-use1" in out
    steps = {step["step"]: step for step in report(pair)["steps"]}
    assert steps["in-region failover seen (node role or event)"]["measured_t_plus_s"] == 33  # the event's own stamp
    assert steps["writer's probe healthy again (A)"]["measured_step_s"] == pytest.approx(40, abs=10)


def test_a_promote_during_an_in_region_failover_fails_the_game_day(pair: Path) -> None:
    world = new_world(
        primary_node_moves_at=35.0,
        writer_unhealthy_at=None,
        decisions=[(90.0, SECONDARY_REGION, record("promote", acted=False, mode="dry-run"))],
    )
    code, out = run(pair, world, "--experiment", "in-region-failover")
    assert code == 1, out
    assert "the peer decided promote 1 time(s) during an in-region failover" in out


def test_in_region_failover_refuses_when_the_primary_is_not_in_the_aimed_az(pair: Path) -> None:
    fis = boto3.client("fis", region_name=PRIMARY_REGION)
    for template in fis.list_experiment_templates()["experimentTemplates"]:
        fis.delete_experiment_template(id=template["id"])
    create_fis_templates(zone="us-east-1c")
    code, out = run(pair, new_world(), "--experiment", "in-region-failover")
    assert code == 1
    assert "the primary of orders-use1 is in us-east-1a, the experiment powers off us-east-1c" in out
    assert experiments() == []


def test_ctrl_c_stops_the_experiment(pair: Path) -> None:
    world = unreachable_world("dry-run")

    def interrupt(slept: float) -> None:
        raise KeyboardInterrupt

    world.clock.on_sleep = interrupt
    code, out = run(pair, world, "--experiment", "writer-unreachable")
    assert code == 2
    assert "interrupted (Ctrl-C)" in out
    assert "the experiment was stopped" in out
    (experiment,) = experiments()
    assert experiment["state"]["status"] == "stopped"


def test_an_unexpected_error_while_watching_stops_the_experiment(pair: Path) -> None:
    world = unreachable_world("dry-run")

    def crash(slept: float) -> None:
        raise RuntimeError("the laptop's network went away")

    world.clock.on_sleep = crash
    code, out = run(pair, world, "--experiment", "writer-unreachable")
    assert code == 2
    assert "RuntimeError: the laptop's network went away; the experiment was stopped" in out
    assert experiments()[0]["state"]["status"] == "stopped"


def test_failing_reads_are_timeline_notes_and_the_run_goes_on(pair: Path) -> None:
    world = unreachable_world("dry-run")
    world.broken_reads = {"DescribeEvents", "GetHealthCheckStatus"}
    code, out = run(pair, world, "--experiment", "writer-unreachable")
    assert code == 0, out
    assert "cannot read ElastiCache events A: DescribeEvents failed (throttled: ThrottlingException)" in out
    assert report(pair)["read_errors"]


def test_stubbed_fis_stop_retries_and_an_unstoppable_experiment_says_how_to_stop_it(pair: Path) -> None:
    """FIS behind Stubber (requests validated against the real FIS model): StopExperiment throttled
    on every attempt, so the run cannot confirm the stop and prints the command that does it."""
    world = unreachable_world("dry-run")
    moto_clients = world.clients()
    fis = boto3.client("fis", region_name=PRIMARY_REGION)
    templates = fis.list_experiment_templates()["experimentTemplates"]
    stubber = Stubber(fis)
    stubber.add_response("list_experiment_templates", {"experimentTemplates": templates})
    unreachable = next(t for t in templates if t["tags"]["gds-failover-experiment"] == "writer-unreachable")
    stubber.add_response(
        "get_experiment_template",
        {"experimentTemplate": {"id": unreachable["id"], "targets": {}, "tags": unreachable["tags"]}},
        {"id": unreachable["id"]},
    )
    running = {"experiment": {"id": "EXP1", "state": {"status": "running", "reason": "running"}}}
    stubber.add_response("start_experiment", running)
    stubber.add_response("get_experiment", running, {"id": "EXP1"})  # the first poll
    for _ in range(3):
        stubber.add_response("get_experiment", running, {"id": "EXP1"})
        stubber.add_client_error(
            "stop_experiment", "ThrottlingException", "Rate exceeded", expected_params={"id": "EXP1"}
        )

    def interrupt(slept: float) -> None:
        raise KeyboardInterrupt  # at the first pause, and at every pause while stopping (a second Ctrl-C)

    world.clock.on_sleep = interrupt

    def clients(service: str, region: str) -> Any:
        return fis if service == "fis" else moto_clients(service, region)

    lines: list[str] = []
    with stubber, on_the_world_clock(world):
        code = main(
            [
                "--config-env",
                "primary",
                "--experiment",
                "writer-unreachable",
                "--confirm",
                f"{ACCOUNT}/{GDS_ID}",
                "--report-dir",
                str(pair.parent / "reports"),
            ],
            clients=clients,
            samconfig=pair,
            clock=Clock(now=world.clock.now, sleep=world.clock.sleep),
            preflight=healthy_pair,
            interactive=False,
            out=lines.append,
        )
        stubber.assert_no_pending_responses()
    out = "\n".join(lines)
    assert code == 2
    assert "STOP IT BY HAND: aws fis stop-experiment --id EXP1 --region us-east-1" in out
    assert "StopExperiment failed (throttled: ThrottlingException)" in out


def test_start_failure_is_one_line_and_nothing_runs(pair: Path) -> None:
    world = unreachable_world("dry-run")
    moto_clients = world.clients()
    fis = moto_clients("fis", PRIMARY_REGION)

    def refuse_start(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceQuotaExceededException", "Message": "quota"}}, "StartExperiment")

    fis.meta.events.register("before-call.fis.StartExperiment", refuse_start)
    code, out = run(pair, world, "--experiment", "writer-unreachable", clients=moto_clients)
    assert code == 2
    assert out.splitlines()[-1].startswith("gameday: StartExperiment failed")
    assert experiments() == []


def test_gameday_refuses_a_pair_that_is_not_healthy(pair: Path) -> None:
    """The real verify, on the same pair: no alarm exists in moto, so the alarm checks fail."""

    def real_verify(config: SamConfig, env: str, clients: Any, now: datetime, peer: str | None) -> list[Finding]:
        from tools.verify import verify

        return verify(config, env, clients, now, peer_name=peer)

    code, out = run(pair, new_world(), "--experiment", "writer-unreachable", preflight=real_verify)
    assert code == 1
    assert "FAIL  alarms primary:" in out
    assert out.splitlines()[-1] == "gameday: refused: the pair is not healthy (make verify, above): nothing started"
    assert experiments() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--experiment", "region-gone"], "gameday: unknown EXPERIMENT 'region-gone'; one of: in-region-failover, "),
        (["--experiment", "writer-unreachable", "--timeout-minutes", "0"], "gameday: TIMEOUT_MINUTES must be"),
        (["--experiment", "writer-unreachable", "--timeout-minutes", "ten"], "gameday: argument --timeout-minutes"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(pair: Path, argv: list[str], message: str) -> None:
    code, out = run(pair, new_world(), *argv)
    assert code == 2
    assert len(out.splitlines()) == 1, out
    assert out.startswith(message), out


def test_a_confirmation_naming_another_datastore_starts_nothing(pair: Path) -> None:
    code, out = run(pair, new_world(), "--experiment", "writer-unreachable", confirm=f"{ACCOUNT}/ldgnf-other")
    assert code == 2
    assert out.splitlines()[-1] == (
        f"gameday: CONFIRM='{ACCOUNT}/ldgnf-other' does not name this account and datastore ({ACCOUNT}/{GDS_ID})"
    )
    assert experiments() == []


def test_no_template_deployed_is_one_line(pair: Path) -> None:
    fis = boto3.client("fis", region_name=PRIMARY_REGION)
    for template in fis.list_experiment_templates()["experimentTemplates"]:
        fis.delete_experiment_template(id=template["id"])
    code, out = run(pair, new_world(), "--experiment", "writer-unreachable")
    assert code == 2
    assert out.splitlines()[-1].startswith("gameday: no FIS experiment template writer-unreachable for ldgnf-orders")


def test_a_start_whose_answer_is_lost_finds_its_experiment_by_tag_and_stops_it(pair: Path) -> None:
    world = unreachable_world("dry-run")
    moto_clients = world.clients()

    def lose_the_answer(**_: Any) -> None:
        raise KeyboardInterrupt  # FIS started it; Ctrl-C before the answer was read

    moto_clients("fis", PRIMARY_REGION).meta.events.register("after-call.fis.StartExperiment", lose_the_answer)
    code, out = run(pair, world, "--experiment", "writer-unreachable", clients=moto_clients)
    assert code == 2
    (experiment,) = experiments()
    assert out.splitlines()[-1] == (
        f"gameday: interrupted while starting; experiment {experiment['id']} it started was stopped"
    )
    assert experiment["state"]["status"] == "stopped"
