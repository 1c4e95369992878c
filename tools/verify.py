"""make verify: is a deployed pair doing its job? Read-only checks, one line each.

    python -m tools.verify --config-env <env> [--peer <env>] [--minutes 10] [--promoter-alarm]

For the environment and its peer (samconfig.toml): the stack's status; which region the Global
Datastore says is the writer; per region, probe executions in the last minutes (AWS/States metrics,
EXPRESS executions cannot be listed), the probe metrics, the writer and promotion-trigger alarms and
any other alarm of the stack in ALARM, Route 53's health check, an active pause of automatic promotion
(make pause: a warning with who, why and until); for the pair, the answer Route 53
gives for the record; per replica region, a promoter decision on a freshly stamped test notification.

The promoter check invokes PromoteFunction (its only side effects are a decision log line, a
PromotionDecision metric, an idempotency record and, for hold or refuse, an operator notification).
A test ALARM is sent only when the stack's PromotionMode is dry-run or notify, or with
``--promoter-alarm``: in auto mode a genuine promote decision would act. Otherwise the test
notification is an OK transition, which shows the function runs and accepts its own trigger alarm
(account, alarm name and region pass; the answer is ``noop``/``not-alarm``).

Exit codes (tools/checks.py): 0 healthy pair (warnings allowed), 1 a check failed, 2 usage error
or a check could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.ledger import PromotionLedger
from gdfailover.route53 import Route53HealthChecks
from gdfailover.signals import (
    DEFAULT_NAMESPACE,
    DIM_REPLICATION_GROUP,
    DIM_SERVICE,
    HEALTH_CHECK_STATUS,
    HEARTBEAT_AGE,
    PROBE_LATENCY,
    REACHABLE,
)
from tools.awsclients import ClientFactory, StackView, boto3_clients, describe_error, read_stack
from tools.cfn import SAMCONFIG
from tools.checks import USAGE_OR_AWS_ERROR, Finding, error, exit_code, fail, ok, summary, warn
from tools.samconfig import DeployEnv, SamConfig, SamConfigError

SERVICE = "gds-failover"
HEALTHY_STACK_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
#: decisions that mean "the promoter ran, saw a healthy writer elsewhere and did not promote"
SAFE_DECISIONS = frozenset({"refuse", "hold"})


@dataclass(frozen=True)
class Region:
    env: DeployEnv
    stack: StackView

    @property
    def group(self) -> str:
        return self.stack.parameters.get("ReplicationGroupId") or self.env.overrides.get("ReplicationGroupId", "")

    def output(self, key: str) -> str:
        return self.stack.outputs.get(key, "")


def verify(
    config: SamConfig,
    env_name: str,
    clients: ClientFactory,
    now: datetime,
    *,
    peer_name: str | None = None,
    minutes: int = 10,
    promoter_alarm: bool = False,
) -> list[Finding]:
    env = config.env(env_name)
    peer = config.peer(env, peer_name)
    findings: list[Finding] = []
    regions: list[Region] = []
    for member in [env] + ([peer] if peer else []):
        found = _stack_check(member, clients, findings)
        if found is not None:
            regions.append(Region(member, found))
    if not regions:
        return findings
    writer = _writer(regions, clients, findings)
    window = timedelta(minutes=minutes)
    for region in regions:
        is_writer = None if writer is None else region.group == writer
        findings.extend(_guarded(f"probe runs {region.env.name}", partial(_probe_runs, region, clients, now, window)))
        findings.extend(
            _guarded(f"metrics {region.env.name}", partial(_metrics, region, is_writer, clients, now, window))
        )
        findings.extend(_guarded(f"alarms {region.env.name}", partial(_alarms, region, is_writer, clients)))
        findings.extend(_guarded(f"health check {region.env.name}", partial(_health_check, region, is_writer, clients)))
        findings.extend(_guarded(f"pause {region.env.name}", partial(_pause, region, clients, now)))
    if writer is not None:
        findings.extend(_guarded("route 53 answer", partial(_dns_answer, regions, writer, clients)))
        for region in regions:
            if region.group != writer:
                promoter = partial(_promoter, region, clients, now, promoter_alarm)
                findings.extend(_guarded(f"promoter {region.env.name}", promoter))
    return findings


def _guarded(check: str, run: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return run()
    except Exception as failure:  # an AWS failure is one line, never a traceback
        return [error(check, describe_error(check, failure))]


def _stack_check(env: DeployEnv, clients: ClientFactory, findings: list[Finding]) -> StackView | None:
    check = f"stack {env.name}"
    try:
        stack = read_stack(clients, env.stack_name, env.region)
    except Exception as failure:
        findings.append(error(check, describe_error("DescribeStacks", failure)))
        return None
    if stack is None:
        findings.append(
            fail(check, f"{env.stack_name} is not deployed in {env.region} (make deploy CONFIG_ENV={env.name})")
        )
        return None
    if stack.status in HEALTHY_STACK_STATUSES:
        findings.append(ok(check, f"{env.stack_name} in {env.region} is {stack.status}"))
    elif stack.usable:
        findings.append(fail(check, f"{env.stack_name} in {env.region} is {stack.status}: the last deploy failed"))
    else:
        findings.append(fail(check, f"{env.stack_name} in {env.region} is {stack.status}"))
        return None
    return stack


def _writer(regions: list[Region], clients: ClientFactory, findings: list[Finding]) -> str | None:
    """The replication group ElastiCache names PRIMARY, asked in each region until one answers."""
    gds_id = regions[0].stack.parameters.get("GlobalReplicationGroupId", "")
    for region in regions:
        try:
            datastore = ElastiCacheGlobalDatastores(clients("elasticache", region.env.region)).describe(gds_id)
        except Exception as failure:
            findings.append(error("datastore", f"from {region.env.region}: {describe_error('describe', failure)}"))
            continue
        primary = datastore.primary
        if primary is None:
            findings.append(fail("datastore", f"{gds_id} has no PRIMARY member ({datastore.status})"))
            return None
        level = ok if datastore.status == "available" else warn
        findings.append(
            level(
                "datastore",
                f"{gds_id} is {datastore.status}; writer {primary.replication_group_id} in {primary.region}",
            )
        )
        return primary.replication_group_id
    return None


def _metric_query(
    query_id: str, namespace: str, name: str, dimensions: list[dict[str, str]], stat: str
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": dimensions},
            "Period": 60,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _metric_points(
    clients: ClientFactory, region: str, queries: list[dict[str, Any]], now: datetime, window: timedelta
) -> dict[str, list[float]]:
    """Values per query id, oldest first."""
    response = clients("cloudwatch", region).get_metric_data(
        MetricDataQueries=queries, StartTime=now - window, EndTime=now, ScanBy="TimestampAscending"
    )
    return {
        str(result["Id"]): [float(value) for value in result.get("Values") or []]
        for result in response["MetricDataResults"]
    }


def _probe_runs(region: Region, clients: ClientFactory, now: datetime, window: timedelta) -> list[Finding]:
    check = f"probe runs {region.env.name}"
    arn = region.output("ProbeStateMachineArn")
    dimensions = [{"Name": "StateMachineArn", "Value": arn}]
    points = _metric_points(
        clients,
        region.env.region,
        [
            _metric_query(query_id, "AWS/States", name, dimensions, "Sum")
            for query_id, name in (
                ("started", "ExecutionsStarted"),
                ("failed", "ExecutionsFailed"),
                ("timed_out", "ExecutionsTimedOut"),
            )
        ],
        now,
        window,
    )
    started, failed = sum(points.get("started", [])), sum(points.get("failed", [])) + sum(points.get("timed_out", []))
    minutes = int(window.total_seconds() // 60)
    if started == 0:
        return [fail(check, f"no probe execution in the last {minutes} min (ProbeScheduleState? the schedule's role?)")]
    if failed:
        return [
            fail(check, f"{failed:.0f} of {started:.0f} probe executions failed or timed out in the last {minutes} min")
        ]
    return [ok(check, f"{started:.0f} probe executions in the last {minutes} min, none failed")]


def _metrics(
    region: Region, is_writer: bool | None, clients: ClientFactory, now: datetime, window: timedelta
) -> list[Finding]:
    check = f"metrics {region.env.name}"
    dimensions = [{"Name": DIM_SERVICE, "Value": SERVICE}, {"Name": DIM_REPLICATION_GROUP, "Value": region.group}]
    wanted = [
        ("health", HEALTH_CHECK_STATUS, "Minimum"),
        ("reachable", REACHABLE, "Maximum"),
        ("latency", PROBE_LATENCY, "Maximum"),
    ]
    if is_writer is False:
        wanted.append(("heartbeat_age", HEARTBEAT_AGE, "Maximum"))
    points = _metric_points(
        clients,
        region.env.region,
        [_metric_query(i, DEFAULT_NAMESPACE, n, dimensions, s) for i, n, s in wanted],
        now,
        window,
    )
    missing = [name for query_id, name, _ in wanted if not points.get(query_id)]
    if missing:
        return [
            fail(
                check,
                f"no {', '.join(missing)} datapoint for {region.group} "
                f"in the last {window.total_seconds() / 60:.0f} min",
            )
        ]
    findings = []
    health = points["health"][-1]
    if is_writer is True and health < 1:
        findings.append(fail(check, f"HealthCheckStatus {health:g} in the writer's region (expected 1)"))
    elif is_writer is False and health >= 1:
        findings.append(fail(check, "HealthCheckStatus 1 on a SECONDARY member: it reads as a writer (expected 0)"))
    if is_writer is False:
        age, threshold = (
            points["heartbeat_age"][-1],
            float(region.stack.parameters.get("HeartbeatAgeThresholdSeconds", "90")),
        )
        if age >= threshold:
            findings.append(
                fail(check, f"HeartbeatAge {age:.0f} s is at or above the promotion threshold {threshold:.0f} s")
            )
    if not findings:
        detail = f", HeartbeatAge {points['heartbeat_age'][-1]:.0f} s" if "heartbeat_age" in points else ""
        findings.append(
            ok(
                check,
                f"HealthCheckStatus {health:g}, Reachable {points['reachable'][-1]:g}, "
                f"ProbeLatency {points['latency'][-1]:.0f} ms{detail}",
            )
        )
    return findings


def _alarms(region: Region, is_writer: bool | None, clients: ClientFactory) -> list[Finding]:
    check = f"alarms {region.env.name}"
    cloudwatch = clients("cloudwatch", region.env.region)
    writer_alarm, trigger_alarm = region.output("WriterAlarmName"), region.output("PromotionTriggerAlarmName")
    states: dict[str, str] = {}
    # Every alarm of the template is named "<stack name>-..." (tests/template checks it).
    for page in cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=f"{region.env.stack_name}-"):
        for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
            states[str(alarm["AlarmName"])] = str(alarm.get("StateValue"))
    findings = []
    expected = {writer_alarm: None if is_writer is None else ("OK" if is_writer else "ALARM"), trigger_alarm: "OK"}
    for name, want in expected.items():
        state = states.get(name)
        if state is None:
            findings.append(fail(check, f"alarm {name} does not exist"))
        elif want is not None and state != want:
            role = "the writer's" if is_writer else "a replica's"
            findings.append(fail(check, f"{name} is {state}, expected {want} in {role} region"))
    others = sorted(name for name, state in states.items() if state == "ALARM" and name not in expected)
    if others:
        findings.append(fail(check, f"also in ALARM: {', '.join(others)}"))
    if not findings:
        findings.append(
            ok(
                check,
                f"writer alarm {states[writer_alarm]}, trigger {states[trigger_alarm]}, "
                f"{len(states)} alarms, none else in ALARM",
            )
        )
    return findings


def _health_check(region: Region, is_writer: bool | None, clients: ClientFactory) -> list[Finding]:
    check = f"health check {region.env.name}"
    view = Route53HealthChecks(clients("route53", region.env.region)).status(region.output("HealthCheckId"))
    if view.healthy is None:
        return [fail(check, f"{view.health_check_id}: no Route 53 checker has reported yet")]
    verdict = "healthy" if view.healthy else "unhealthy"
    seen = f"{view.health_check_id} {verdict} ({view.healthy_checkers}/{view.checkers} checkers)"
    if is_writer is not None and view.healthy != is_writer:
        return [
            fail(
                check, f"{seen}, expected {'healthy' if is_writer else 'unhealthy'}: health means 'healthy writer here'"
            )
        ]
    return [ok(check, seen)]


def _pause(region: Region, clients: ClientFactory, now: datetime) -> list[Finding]:
    """An operator's runtime pause of this region's automatic promotion (make pause): shown with its expiry."""
    check = f"pause {region.env.name}"
    table, gds = region.output("LedgerTableName"), region.stack.parameters.get("GlobalReplicationGroupId", "")
    pause = PromotionLedger(clients("dynamodb", region.env.region), table).read_pause(gds)
    if pause is None:
        return [ok(check, "automatic promotion is not paused")]
    if not pause.active(now):
        return [ok(check, f"automatic promotion is not paused (a pause expired at {pause.until.isoformat()})")]
    left = (pause.until - now).total_seconds() / 60
    return [
        warn(
            check,
            f"automatic promotion PAUSED until {pause.until.isoformat()} ({left:.0f} min left) by {pause.who}: "
            f"{pause.reason} (make resume CONFIG_ENV={region.env.name})",
        )
    ]


def _dns_answer(regions: list[Region], writer: str, clients: ClientFactory) -> list[Finding]:
    check = "route 53 answer"
    writer_region = next((region for region in regions if region.group == writer), None)
    if writer_region is None:
        return [fail(check, f"the writer {writer} is not one of the verified stacks")]
    expected = writer_region.stack.parameters.get("RedisPrimaryEndpoint", "")
    zone_id, record = writer_region.output("HostedZoneId"), writer_region.output("RecordName")
    route53 = clients("route53", writer_region.env.region)
    zone = route53.get_hosted_zone(Id=zone_id)
    if (zone["HostedZone"].get("Config") or {}).get("PrivateZone"):
        answer, how = _failover_answer(route53, zone_id, record)
        how += " (TestDNSAnswer serves public zones only; from the VPC: dig +short " + record + ")"
    else:
        response = route53.test_dns_answer(HostedZoneId=zone_id, RecordName=record, RecordType="CNAME")
        answer, how = (response.get("RecordData") or [""])[0], "TestDNSAnswer"
    answer = answer.rstrip(".")
    if answer != expected:
        return [fail(check, f"{record} answers {answer or 'nothing'}, not the writer's endpoint {expected}; {how}")]
    return [ok(check, f"{record} -> {answer} (the writer, {writer}); {how}")]


def _failover_answer(route53: Any, zone_id: str, record: str) -> tuple[str, str]:
    """What Route 53 answers for a failover CNAME: PRIMARY when its health check is healthy, else a
    SECONDARY that is healthy or has no health check, else PRIMARY (Route 53 DG, failover routing)."""
    sets = route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=record, StartRecordType="CNAME", MaxItems="10"
    )["ResourceRecordSets"]
    mine = [item for item in sets if item["Name"].rstrip(".") == record.rstrip(".") and item.get("Failover")]
    by_role = {item["Failover"]: item for item in mine}
    if "PRIMARY" not in by_role:
        return "", f"no PRIMARY failover record {record} in {zone_id}"
    health = Route53HealthChecks(route53)

    def healthy(item: dict[str, Any]) -> bool:
        return item.get("HealthCheckId") is None or health.status(item["HealthCheckId"]).healthy is True

    def value(item: dict[str, Any]) -> str:
        return str((item.get("ResourceRecords") or [{}])[0].get("Value", ""))

    primary, secondary = by_role["PRIMARY"], by_role.get("SECONDARY")
    if healthy(primary):
        return value(primary), "derived from the failover records and their health checks: PRIMARY healthy"
    if secondary is not None and healthy(secondary):
        return value(secondary), "derived from the failover records and their health checks: PRIMARY unhealthy"
    return value(primary), "derived from the failover records and their health checks: none healthy, PRIMARY"


def stamped_notification(
    alarm_name: str, *, account_id: str, region: str, topic_arn: str, state: str, now: datetime
) -> dict[str, Any]:
    """An SNS-delivered CloudWatch alarm notification of ``alarm_name``, stamped ``now``."""
    message: dict[str, Any] = {
        "AlarmName": alarm_name,
        "AlarmDescription": "gds-failover verify: test notification",
        "AWSAccountId": account_id,
        "NewStateValue": state,
        "OldStateValue": "OK" if state == "ALARM" else "ALARM",
        "NewStateReason": "make verify: a freshly stamped test notification, not a real state change",
        "StateChangeTime": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000",
        "Region": region,
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{alarm_name}",
        "Trigger": {},
    }
    message_id = str(uuid.uuid4())  # a new id each run: the promoter's idempotency would replay an old one
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{message_id}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": f'{state}: "{alarm_name}" (make verify test)',
                    "Message": json.dumps(message),
                    "Timestamp": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "MessageAttributes": {},
                },
            }
        ]
    }


def _promoter(region: Region, clients: ClientFactory, now: datetime, promoter_alarm: bool) -> list[Finding]:
    check = f"promoter {region.env.name}"
    mode = region.stack.parameters.get("PromotionMode", "auto")
    state = "ALARM" if promoter_alarm or mode in ("dry-run", "notify") else "OK"
    alarm = region.output("PromotionTriggerAlarmName")
    event = stamped_notification(
        alarm,
        account_id=region.stack.account_id,
        region=region.env.region,
        topic_arn=region.output("PromotionTopicArn"),
        state=state,
        now=now,
    )
    response = clients("lambda", region.env.region).invoke(
        FunctionName=region.output("PromoteFunctionName"),
        InvocationType="RequestResponse",
        Payload=json.dumps(event).encode(),
    )
    body = response["Payload"].read()
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return [fail(check, f"the promoter answered something that is not JSON: {body[:120]!r}")]
    if response.get("FunctionError"):
        detail = f"{payload.get('errorType')}: {payload.get('errorMessage')}" if isinstance(payload, dict) else payload
        return [fail(check, f"the promoter failed: {detail}")]
    results = payload.get("results") if isinstance(payload, dict) else None
    if not results:
        return [fail(check, f"unexpected answer: {str(payload)[:200]}")]
    return [judge_decision(check, f"sent {state} of {alarm} (mode {mode})", state, results[0])]


def judge_decision(check: str, sent: str, state: str, result: dict[str, Any]) -> Finding:
    """A healthy pair: an OK notification is a noop; an ALARM is refused or held, never promoted."""
    decision, code = result.get("decision"), result.get("code")
    reason = (result.get("reasons") or [""])[0]
    if state == "OK":
        if (decision, code) == ("noop", "not-alarm"):
            return ok(check, f"{sent}: noop (not-alarm): it runs and accepts its own trigger alarm")
        return fail(check, f"{sent}: {decision} ({code}), expected noop (not-alarm): {reason}")
    if decision in SAFE_DECISIONS:
        return ok(check, f"{sent}: {decision} ({code}): {reason}")
    if decision == "promote":
        return fail(check, f"{sent}: PROMOTE while the writer is healthy: {reason}")
    return fail(check, f"{sent}: {decision} ({code}), expected refuse or hold: {reason}")


def main(
    argv: Sequence[str] | None = None,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.verify", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", required=True, help="a samconfig.toml environment of the pair")
    parser.add_argument("--peer", help="the peer environment, when more than one shares the Global Datastore")
    parser.add_argument("--minutes", type=int, default=10, help="how far back to look for probes (default 10)")
    parser.add_argument(
        "--promoter-alarm", action="store_true", help="send a test ALARM to the promoter even in PromotionMode=auto"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return USAGE_OR_AWS_ERROR if exit_.code else 0
    if not 1 <= args.minutes <= 180:
        print("verify: --minutes must be between 1 and 180")
        return USAGE_OR_AWS_ERROR
    try:
        config = SamConfig.load(samconfig)
        findings = verify(
            config,
            args.config_env,
            clients or boto3_clients(),
            now(),
            peer_name=args.peer,
            minutes=args.minutes,
            promoter_alarm=args.promoter_alarm,
        )
    except SamConfigError as problem:
        print(f"verify: {problem}")
        return USAGE_OR_AWS_ERROR
    for finding in findings:
        print(finding.line())
    code = exit_code(findings)
    verdict = {0: "healthy", 1: "NOT healthy", 2: "could not check"}[code]
    print(f"verify {args.config_env}: {verdict} ({summary(findings)})")
    return code


if __name__ == "__main__":
    sys.exit(main())
