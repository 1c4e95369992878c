"""The drill's world: two regions (real redis-servers, real handlers, moto + emulated AWS) on virtual time.

Region A is the Global Datastore's primary and the PRIMARY failover record; region B its secondary and
the SECONDARY record. Both stacks are configured as the deploy docs say for a pair: each passes the
other's HealthCheckId, WriterAlarmName and PromotionTopicArn (the fast path), PromotionMode auto.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import redis

from gdfailover.awscall import AwsCallError, ErrorKind
from gdfailover.cloudwatch import AlarmState
from gdfailover.evidence import AlarmReader
from gdfailover.probe import run_probe
from gdfailover.promote_service import PromoteService
from gdfailover.route53 import HealthCheckView
from gdfailover.signals import HEALTH_CHECK_STATUS, HEARTBEAT_AGE
from tools import rto
from tools.cfn import load_template, parameter_defaults
from tools.drill.client import DrillClient, Endpoint
from tools.drill.cloud import (
    AlarmSpec,
    AlarmTransition,
    Datapoint,
    EmulatedAlarm,
    EmulatedRoute53,
    FailoverRecord,
    GlobalDatastoreEmulator,
    Member,
)
from tools.drill.lambdas import (
    CapturingStdout,
    StepFunctionsOnVirtualTime,
    asl_definition,
    emf_values,
    load_handler_module,
    logged_records,
)
from tools.drill.sim import Simulation
from tools.invoke import LambdaContext
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, make_tls_files

ACCOUNT_ID = "123456789012"  # moto's default account
GLOBAL_ID = "ldgnf-drill-gds"
#: The probe's budget is wall time while emulated time stands still during a probe. The template's 3 s
#: would make every stopped-server probe slow; much less lets a busy CI machine (a full resync, two
#: drills at once) fail a healthy probe, which the alarms then read as minutes of emulated failure.
DRILL_PROBE_TIMEOUT_S = "1.5"
#: The drill's parameter overrides, printed with every run.
DRILL_OVERRIDES = {"PromotionMode": "auto"}
#: EventBridge Scheduler starts each region's execution at some second of the minute.
SCHEDULE_OFFSET_S = {"A": 3.0, "B": 11.0}


@dataclass
class TimelineEvent:
    at: float
    kind: str  # fault | probe | alarm | dns | sns | promoter | gds | client | note
    where: str
    text: str
    details: list[str] = field(default_factory=list)


@dataclass
class PromoterRun:
    at: float
    region: str
    alarm_name: str
    result: dict[str, Any]
    record: dict[str, Any] | None


@dataclass
class Region:
    label: str  # A | B
    name: str  # AWS region code
    role: str  # PRIMARY | SECONDARY (failover record)
    replication_group_id: str
    server: RedisServer
    stack_name: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    endpoint_name: str = ""
    secret_arn: str = ""
    topic_arn: str = ""
    health_check_id: str = ""
    writer_alarm: EmulatedAlarm | None = None
    trigger_alarm: EmulatedAlarm | None = None
    probe_module: ModuleType | None = None
    promote_module: ModuleType | None = None
    state_machine_arn: str = ""
    alive: bool = True
    probe_broken: bool = False
    lose_next_probe: bool = False
    executions: int = 0
    last_probe_status: str | None = None


class World:
    def __init__(self, scenario_name: str, overrides: dict[str, str], stdout: CapturingStdout) -> None:
        self.scenario_name = scenario_name
        self.simulation = Simulation()
        self.stdout = stdout
        self.template = load_template()
        self.defaults = parameter_defaults(self.template)
        self.overrides = {**DRILL_OVERRIDES, **overrides}
        self.model = rto.TimingModel.from_parameters({**self.defaults, **self.overrides})
        self.timeline: list[TimelineEvent] = []
        self.probe_samples: list[TimelineEvent] = []  # every probe, for the plot (the timeline folds repeats)
        self.promoter_runs: list[PromoterRun] = []
        self.fault_at: float | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="gds-drill-"))
        self.tls: TlsFiles = make_tls_files(self.workdir / "tls")
        self.regions: dict[str, Region] = {}
        self.duplicate_deliveries = False
        self._subscriptions: dict[str, list[str]] = {}  # topic ARN -> labels of subscribed promoters
        self._last_answer: str | None = None
        self._sfn: StepFunctionsOnVirtualTime | None = None
        self.datastore: GlobalDatastoreEmulator | None = None
        self.route53: EmulatedRoute53 | None = None
        self.client: DrillClient | None = None

    # --- timeline ------------------------------------------------------------------------------------
    def event(
        self, kind: str, where: str, text: str, details: list[str] | None = None, at: float | None = None
    ) -> None:
        when = self.simulation.now if at is None else at
        self.timeline.append(TimelineEvent(when, kind, where, text, details or []))
        self.timeline.sort(key=lambda event: event.at)

    def t(self, when: float | None = None) -> str:
        """Emulated time relative to the injected fault (T+0), or to the start before it."""
        when = self.simulation.now if when is None else when
        origin = self.fault_at if self.fault_at is not None else 0.0
        return f"T{when - origin:+.0f}s"

    # --- construction ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[World]:
        from moto import mock_aws

        servers: list[RedisServer] = []
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}),
            StepFunctionsOnVirtualTime(self.simulation) as sfn,
        ):
            self._sfn = sfn
            try:
                writer = RedisServer(name="region-a", tls=self.tls).start()
                servers.append(writer)
                replica = RedisServer(name="region-b", tls=self.tls).start()
                servers.append(replica)
                replica.replicate_from(writer)
                replica.wait_in_sync()
                self.regions = {
                    "A": Region("A", "us-east-1", "PRIMARY", "drill-use1", writer),
                    "B": Region("B", "us-west-2", "SECONDARY", "drill-usw2", replica),
                }
                self._build()
                yield self
            finally:
                for server in servers:
                    server.stop()
                shutil.rmtree(self.workdir, ignore_errors=True)  # the TLS keys, among others

    def _build(self) -> None:
        a, b = self.regions["A"], self.regions["B"]
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = route53.create_hosted_zone(Name="internal.", CallerReference=str(uuid.uuid4()))["HostedZone"][
            "Id"
        ].split("/")[-1]
        for region in (a, b):
            region.stack_name = f"gds-failover-{region.label.lower()}"
            region.endpoint_name = f"master.{region.replication_group_id}.drill.{region.name}.cache.amazonaws.com"
            region.secret_arn = boto3.client("secretsmanager", region_name=region.name).create_secret(
                Name="gds-failover/redis-auth", SecretString=DEFAULT_PASSWORD
            )["ARN"]
            region.topic_arn = boto3.client("sns", region_name=region.name).create_topic(
                Name=f"{region.stack_name}-promotion"
            )["TopicArn"]
        for region in (a, b):
            peer = b if region is a else a
            values = {
                **self.defaults,
                **self.overrides,
                "GlobalReplicationGroupId": GLOBAL_ID,
                "ReplicationGroupId": region.replication_group_id,
                "RedisPrimaryEndpoint": "127.0.0.1",
                "RedisPort": str(region.server.port),
                "RedisAuthSecretArn": region.secret_arn,
                "FailoverRole": region.role,
                "AWS::StackName": region.stack_name,
                "AWS::Region": region.name,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
            }
            region.writer_alarm = EmulatedAlarm(
                AlarmSpec.from_template(self.template, "WriterAlarm", values, region.name)
            )
            region.trigger_alarm = EmulatedAlarm(
                AlarmSpec.from_template(self.template, "PromotionTriggerAlarm", values, region.name)
            )
            region.parameters = values
            del peer
        for region in (a, b):
            cloudwatch = boto3.client("cloudwatch", region_name=region.name)
            for alarm in (region.writer_alarm, region.trigger_alarm):
                assert alarm is not None
                spec = alarm.spec
                cloudwatch.put_metric_alarm(
                    AlarmName=spec.name,
                    Namespace=spec.namespace,
                    MetricName=spec.metric_name,
                    Dimensions=[{"Name": n, "Value": v} for n, v in spec.dimensions],
                    Statistic=spec.statistic,
                    Period=spec.period_s,
                    EvaluationPeriods=spec.evaluation_periods,
                    Threshold=spec.threshold,
                    ComparisonOperator=spec.comparison,
                    TreatMissingData=spec.treat_missing,
                    AlarmActions=[region.topic_arn],
                )
            assert region.writer_alarm is not None
            region.health_check_id = route53.create_health_check(
                CallerReference=str(uuid.uuid4()),
                HealthCheckConfig={
                    "Type": "CLOUDWATCH_METRIC",
                    "AlarmIdentifier": {"Region": region.name, "Name": region.writer_alarm.spec.name},
                    "InsufficientDataHealthStatus": "Unhealthy",
                },
            )["HealthCheck"]["Id"]
            route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Changes": [
                        {
                            "Action": "CREATE",
                            "ResourceRecordSet": {
                                "Name": "redis.internal.",
                                "Type": "CNAME",
                                "TTL": int(self.model.record_ttl_s),
                                "SetIdentifier": f"{region.name}-{region.replication_group_id}",
                                "Failover": region.role,
                                "HealthCheckId": region.health_check_id,
                                "ResourceRecords": [{"Value": region.endpoint_name}],
                            },
                        }
                    ]
                },
            )
            boto3.client("dynamodb", region_name=region.name).create_table(
                TableName=f"{region.stack_name}-ledger",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        for region in (a, b):
            peer = b if region is a else a
            assert peer.writer_alarm is not None
            region.parameters |= {
                "PeerHealthCheckId": peer.health_check_id,
                "PeerWriterAlarmName": peer.writer_alarm.spec.name,
                "PeerPromotionTopicArn": peer.topic_arn,
            }
            self._subscriptions.setdefault(region.topic_arn, []).append(region.label)
            self._subscriptions.setdefault(peer.topic_arn, []).append(region.label)
        self._route53_from_moto(route53, zone_id)
        self.datastore = GlobalDatastoreEmulator(
            self.simulation,
            GLOBAL_ID,
            [
                Member(a.replication_group_id, a.name, "PRIMARY", a.server),
                Member(b.replication_group_id, b.name, "SECONDARY", b.server),
            ],
            on_event=lambda kind, text: self.event(kind, "GDS", text),
        )
        for region in (a, b):
            self._load_handlers(region)
        definition = asl_definition(self.template, {**self.defaults, **self.overrides})
        for region in (a, b):
            assert self._sfn is not None
            region.state_machine_arn = self._sfn.deploy(
                region.name, f"{region.stack_name}-probe", definition, functools.partial(self._probe, region)
            )
        self.client = DrillClient(
            self.simulation,
            resolve=self._resolve,
            ttl_s=self.model.record_ttl_s,
            ca_file=str(self.tls.ca_cert),
            password=DEFAULT_PASSWORD,
            on_event=lambda kind, text: self.event(kind, "client", text),
        )

    def _route53_from_moto(self, route53: Any, zone_id: str) -> None:
        """The failover records as stored in (moto) Route 53, evaluated by the emulated health checks."""
        by_check = {r.health_check_id: r for r in self.regions.values()}
        records = []
        for record in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]:
            if record.get("Failover") is None:
                continue
            region = by_check[record["HealthCheckId"]]
            records.append(
                FailoverRecord(
                    record["SetIdentifier"],
                    record["Failover"],
                    record["ResourceRecords"][0]["Value"],
                    region.writer_alarm,
                )
            )
        self.route53 = EmulatedRoute53(
            records, health_lag_s=rto.ROUTE53_HEALTH_LAG_TYPICAL_S, ttl_s=self.model.record_ttl_s
        )

    def _load_handlers(self, region: Region) -> None:
        peer_label = "B" if region.label == "A" else "A"
        peer = self.regions[peer_label]
        trigger = region.trigger_alarm
        assert trigger is not None
        assert peer.writer_alarm is not None
        probe_env = {
            "REDIS_TLS_CA_FILE": str(self.tls.ca_cert),
            "PROBE_TIMEOUT_SECONDS": DRILL_PROBE_TIMEOUT_S,
        }
        promote_env = {
            "TRIGGER_ALARM_NAMES": f"{trigger.spec.name},{peer.writer_alarm.spec.name}",
            "LEDGER_TABLE_NAME": f"{region.stack_name}-ledger",
            "OPERATOR_TOPIC_ARN": "",
            "ACCOUNT_ID": ACCOUNT_ID,
        }
        probe = load_handler_module("ProbeFunction", region.name, region.parameters, probe_env)
        probe.run_probe = functools.partial(run_probe, clock=self.simulation.clock.time)  # type: ignore[attr-defined]
        region.probe_module = probe
        promote = load_handler_module("PromoteFunction", region.name, region.parameters, promote_env)
        assert self.datastore is not None
        datastore = self.datastore
        service: PromoteService = promote.service
        service.clock = self.simulation.clock
        service.datastores = datastore.view(region.name)
        sources = service.sources
        service.sources = dataclasses.replace(
            sources,
            datastores=datastore.view(region.name),
            # The peer's ElastiCache endpoint as seen from this region: unreachable when that region is down.
            peer_datastores=datastore.view,
            peer_alarms=functools.partial(self._peer_alarms, sources.peer_alarms),
            health_checks=EmulatedHealthChecks(self),
        )
        region.promote_module = promote

    def _peer_alarms(self, real: Callable[[str], AlarmReader], peer_region: str) -> AlarmReader:
        region = next(r for r in self.regions.values() if r.name == peer_region)
        if not region.alive:
            return UnreachableAlarms(peer_region)
        return real(peer_region)

    # --- the loop ---------------------------------------------------------------------------------------
    def start(self) -> None:
        sim = self.simulation
        for region in self.regions.values():
            sim.every(60.0, functools.partial(self._start_execution, region), start=SCHEDULE_OFFSET_S[region.label])
        sim.every(rto.ALARM_EVALUATION_INTERVAL_S, self._evaluate_alarms, start=60.0)
        sim.every(1.0, self._watch_dns, start=0.0)
        assert self.client is not None
        sim.every(1.0, self.client.tick, start=0.5)

    def _start_execution(self, region: Region) -> None:
        if not region.alive:
            return
        region.executions += 1
        assert self._sfn is not None
        self._sfn.start(region.name, region.state_machine_arn, f"drill-{region.label}-{region.executions:04d}")

    def _probe(self, region: Region, payload: dict[str, Any]) -> dict[str, Any]:
        """The state machine's Lambda task: the real probe handler, in-process."""
        now = self.simulation.now
        if not region.alive:
            raise RuntimeError("drill: the region is down; this Lambda invocation never happens")
        if region.lose_next_probe:
            region.lose_next_probe = False
            self.event("probe", region.label, "probe invocation lost (Lambda error): no datapoint")
            raise RuntimeError("drill: this probe invocation is lost")
        assert region.probe_module is not None
        context = LambdaContext(
            function_name=f"{region.stack_name}-probe",
            memory_limit_in_mb=256,
            timeout_s=10,
            invoked_function_arn=f"arn:aws:lambda:{region.name}:{ACCOUNT_ID}:function:{region.stack_name}-probe",
        )
        with self.stdout.capture() as output:
            result: dict[str, Any] = region.probe_module.lambda_handler(payload, context)
        metrics = emf_values(output.getvalue())
        self._publish_metrics(region, now, metrics)
        status = str(result["status"])
        if status == "healthy":
            self._let_replicas_catch_up(region)
        age = result.get("heartbeat_age_s")
        text = status
        if status == "read_only" and isinstance(age, int | float):
            text += f", writer heartbeat age {age:.0f}s"
        if status == "read_only" and (link := result.get("replication_link")) is not None:
            text += f", replication link {link}"
        self.probe_samples.append(TimelineEvent(now, "probe", region.label, text))
        if status != region.last_probe_status or region.label == "B" or status == "read_only":
            self.event("probe", region.label, text)
        region.last_probe_status = status
        return result

    @staticmethod
    def _let_replicas_catch_up(writer: Region) -> None:
        """Replication runs in real time while emulated time races ahead about a hundred times faster:
        a replica a few wall milliseconds behind would read a heartbeat that looks minutes old. In AWS
        it has the heartbeat within milliseconds of a 30 s cadence, so hold emulated time until every
        connected replica acknowledged it (WAIT asks them at once). No replica connected: nothing to wait
        for (a broken link is a scenario of its own)."""
        with writer.server.client(timeout=2.0) as client:
            connected = int(client.info("replication").get("connected_slaves", 0))
            if connected:
                client.execute_command("WAIT", connected, 500)

    def _publish_metrics(self, region: Region, measured_at: float, metrics: dict[str, float]) -> None:
        delay = self.model.metric_delay_s[0]
        arrives = measured_at + delay
        timestamp = self.simulation.clock.epoch + timedelta(seconds=measured_at)

        def arrive() -> None:
            if not region.alive:
                return  # the region went down before its logs became metrics
            data = [
                {
                    "MetricName": name,
                    "Dimensions": [
                        {"Name": "service", "Value": "gds-failover"},
                        {"Name": "ReplicationGroupId", "Value": region.replication_group_id},
                    ],
                    "Timestamp": timestamp,
                    "Value": value,
                    "StorageResolution": 60,
                }
                for name, value in metrics.items()
            ]
            if data:
                boto3.client("cloudwatch", region_name=region.name).put_metric_data(
                    Namespace="Custom/Redis", MetricData=data
                )

        for alarm, metric in ((region.writer_alarm, HEALTH_CHECK_STATUS), (region.trigger_alarm, HEARTBEAT_AGE)):
            assert alarm is not None
            if metric in metrics:
                alarm.add(Datapoint(measured_at, metrics[metric], arrives))
        self.simulation.at(arrives, arrive)

    def _evaluate_alarms(self) -> None:
        for region in self.regions.values():
            for alarm in (region.writer_alarm, region.trigger_alarm):
                assert alarm is not None
                transition = alarm.evaluate(self.simulation.now)
                if transition is not None:
                    self._alarm_changed(region, alarm, transition)

    def _alarm_changed(self, region: Region, alarm: EmulatedAlarm, transition: AlarmTransition) -> None:
        kind = "writer alarm" if alarm is region.writer_alarm else "promotion trigger"
        self.event("alarm", region.label, f"{kind} {transition.old} -> {transition.new}", [transition.reason])
        cloudwatch = boto3.client("cloudwatch", region_name=region.name)
        cloudwatch.set_alarm_state(
            AlarmName=alarm.spec.name, StateValue=transition.new, StateReason=transition.reason[:1000]
        )
        self._stamp_alarm_time(region, alarm)
        self.publish_alarm(region, alarm, transition)

    def _stamp_alarm_time(self, region: Region, alarm: EmulatedAlarm) -> None:
        """moto stamps StateUpdatedTimestamp with wall time; the promoter must see emulated time."""
        from moto.cloudwatch.models import cloudwatch_backends

        stored = cloudwatch_backends[ACCOUNT_ID][region.name].alarms[alarm.spec.name]
        stored.state_updated_timestamp = self.simulation.clock.now()

    def publish_alarm(
        self, region: Region, alarm: EmulatedAlarm, transition: AlarmTransition, message_id: str | None = None
    ) -> None:
        """CloudWatch -> SNS (moto) -> every subscribed PromoteFunction (SNS_TO_LAMBDA later)."""
        changed = self.simulation.clock.now()
        message = {
            "AlarmName": alarm.spec.name,
            "AlarmDescription": "",
            "AWSAccountId": ACCOUNT_ID,
            "AlarmConfigurationUpdatedTimestamp": changed.isoformat(),
            "NewStateValue": transition.new,
            "NewStateReason": transition.reason,
            "StateChangeTime": changed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "Region": region.name,
            "AlarmArn": f"arn:aws:cloudwatch:{region.name}:{ACCOUNT_ID}:alarm:{alarm.spec.name}",
            "OldStateValue": transition.old,
            "Trigger": {
                "MetricName": alarm.spec.metric_name,
                "Namespace": alarm.spec.namespace,
                "Statistic": alarm.spec.statistic.upper(),
                "Period": alarm.spec.period_s,
                "EvaluationPeriods": alarm.spec.evaluation_periods,
                "ComparisonOperator": alarm.spec.comparison,
                "Threshold": alarm.spec.threshold,
                "TreatMissingData": alarm.spec.treat_missing,
            },
        }
        text = json.dumps(message)
        if message_id is None:
            message_id = boto3.client("sns", region_name=region.name).publish(
                TopicArn=region.topic_arn, Subject=f"ALARM: {alarm.spec.name}"[:100], Message=text
            )["MessageId"]
        for label in self._subscriptions.get(region.topic_arn, []):
            subscriber = self.regions[label]
            event = sns_event(region.topic_arn, message_id, text, changed)
            deliveries = 2 if self.duplicate_deliveries and transition.new == "ALARM" else 1
            for copy in range(deliveries):
                delay = rto.SNS_TO_LAMBDA_TYPICAL_S + copy * 0.5
                self.simulation.after(
                    delay, functools.partial(self._deliver, subscriber, alarm.spec.name, event, copy > 0)
                )

    def _deliver(self, region: Region, alarm_name: str, event: dict[str, Any], duplicate: bool) -> None:
        if not region.alive:
            return

        def invoke() -> None:
            assert region.promote_module is not None
            context = LambdaContext(
                function_name=f"{region.stack_name}-promote",
                memory_limit_in_mb=256,
                timeout_s=900,
                invoked_function_arn=f"arn:aws:lambda:{region.name}:{ACCOUNT_ID}:function:{region.stack_name}-promote",
            )
            started = self.simulation.now
            with self.stdout.capture() as output:
                response = region.promote_module.lambda_handler(event, context)
            records = logged_records(output.getvalue(), "decision_record")
            for result in response["results"]:
                run = PromoterRun(started, region.label, alarm_name, result, records[-1] if records else None)
                self.promoter_runs.append(run)
                finished = (
                    f"; returned after {self.simulation.now - started:.0f}s" if self.simulation.now > started else ""
                )
                self.event(
                    "promoter",
                    region.label,
                    describe_result(result, alarm_name, duplicate) + finished,
                    details(run),
                    at=started,
                )

        self.simulation.spawn(f"promote-{region.label}", invoke)

    def _watch_dns(self) -> None:
        assert self.route53 is not None
        answer = self.route53.answer(self.simulation.now)
        if answer.target != self._last_answer:
            health = ", ".join(
                f"{r.role} {'healthy' if self.route53.healthy(r, self.simulation.now) else 'unhealthy'}"
                for r in self.route53.records
            )
            self.event("dns", "Route 53", f"redis.internal -> {answer.role} {answer.target}", [health])
            self._last_answer = answer.target

    def _resolve(self) -> Endpoint:
        assert self.route53 is not None
        answer = self.route53.answer(self.simulation.now)
        region = next(r for r in self.regions.values() if r.endpoint_name == answer.target)
        return Endpoint(answer.target, "127.0.0.1", region.server.port, region.label)

    def lost_writes(self) -> int | None:
        """Writes the client saw acknowledged that the current writer does not hold (None: no writer)."""
        assert self.client is not None
        assert self.datastore is not None
        primary = self.datastore.primary
        if not primary.server.running:
            return None
        try:
            with primary.server.client(timeout=5.0) as client:
                pipeline = client.pipeline(transaction=False)
                for ack in self.client.stats.acks:
                    pipeline.exists(f"drill:write:{ack.seq:06d}")
                present = pipeline.execute()
        except redis.RedisError:
            return None
        return sum(1 for found in present if not found)

    # --- faults -----------------------------------------------------------------------------------------
    def inject(self, description: str) -> None:
        """Mark T+0 (the first fault) and record a fault on the timeline."""
        if self.fault_at is None:
            self.fault_at = self.simulation.now
        self.event("fault", "drill", description)

    def lose_region(self, label: str) -> None:
        region = self.regions[label]
        region.alive = False
        region.server.kill()
        assert self.datastore is not None
        assert self.route53 is not None
        self.datastore.unreachable_regions.add(region.name)
        self.route53.region_lost_at[region.name] = self.simulation.now
        for alarm in (region.writer_alarm, region.trigger_alarm):
            assert alarm is not None
            alarm.region_alive = False


class EmulatedHealthChecks:
    """GetHealthCheckStatus as the emulated Route 53 sees it (moto always reports Success)."""

    def __init__(self, world: World) -> None:
        self._world = world

    def status(self, health_check_id: str) -> HealthCheckView:
        region = next(r for r in self._world.regions.values() if r.health_check_id == health_check_id)
        route53 = self._world.route53
        assert route53 is not None
        record = next(r for r in route53.records if r.health_alarm is region.writer_alarm)
        healthy = route53.healthy(record, self._world.simulation.now)
        checkers = 16
        report = "Success: alarm OK" if healthy else "Failure: alarm ALARM or INSUFFICIENT_DATA"
        return HealthCheckView(health_check_id, healthy, checkers if healthy else 0, checkers, report)


class UnreachableAlarms:
    def __init__(self, region: str) -> None:
        self._region = region

    def state(self, alarm_name: str) -> AlarmState:
        raise AwsCallError(
            "DescribeAlarms",
            ErrorKind.UNREACHABLE,
            "EndpointConnectionError",
            f"Could not connect to the endpoint URL: https://monitoring.{self._region}.amazonaws.com/",
        )


def sns_event(topic_arn: str, message_id: str, message: str, when: datetime) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": "ALARM",
                    "Message": message,
                    "Timestamp": when.astimezone(UTC).isoformat(),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def describe_result(result: dict[str, Any], alarm_name: str, duplicate: bool) -> str:
    copy = " (duplicate delivery)" if duplicate else ""
    replay = " [replayed]" if result.get("replayed") else ""
    return f"{result.get('decision')} ({result.get('code')}) on {alarm_name}{copy}{replay}"


def details(run: PromoterRun) -> list[str]:
    if run.result.get("decision") == "noop":
        return []
    lines = [f"reason: {reason}" for reason in run.result.get("reasons") or []]
    record = run.record
    if record is not None:
        evidence = record.get("evidence") or {}
        for signal in evidence.get("writer_signals") or []:
            lines.append(f"evidence {signal['source']}: {signal['vote']} - {signal['detail'][:110]}")
        lines.append(f"evidence lag estimate: {evidence.get('lag_seconds')}s ({str(evidence.get('lag_basis'))[:80]})")
        if record.get("hold_history"):
            lines.append(f"holds before this decision: {', '.join(record['hold_history'])}")
        action = record.get("action") or {}
        if action.get("taken") not in (None, "none"):
            lines.append(f"action: {action.get('taken')} -> {action.get('result')}")
    return lines


def world_parameters_summary(world: World) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(world.overrides.items()))
    return (
        f"parameter overrides (both stacks): {shown}; each stack also gets the peer's PeerHealthCheckId, "
        "PeerWriterAlarmName and PeerPromotionTopicArn"
    )
