"""``make invoke`` without an AWS account: a small emulated world matching events/ (tools/invoke.py --local).

- AWS is moto (CloudWatch, DynamoDB, Secrets Manager, SNS, Route 53), ElastiCache's Global Datastore
  APIs are :class:`tools.gds_emulator.GdsEmulator` behind every ``boto3.client("elasticache")``.
- The world: this region's replication group is the SECONDARY of a Global Datastore whose writer is in
  the peer region and looks gone: this region's probe reports its replica reachable and the writer's
  heartbeat climbing for two minutes, the writer's own alarm (``PEER_WRITER_ALARM_NAME``) is in ALARM,
  and the ledger table exists and is empty. The promote events therefore decide as docs/promotion.md
  says ("Running it locally").
- ProbeFunction with no ``REDIS_HOST``: a real redis-server on loopback with TLS (a throwaway CA) and
  AUTH (the token in an emulated Secrets Manager secret), stopped and deleted afterwards; with no
  ``WITNESS_RESOLVER``, a DNS server on loopback as the VPC resolver: the writer's witness record answers
  ``unhealthy`` (events/probe-witness-check.json).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from gdfailover.witness import HEALTHY, UNHEALTHY, WITNESS_TTL_SECONDS, witness_name
from tools.cfn import load_template, parameter_defaults
from tools.gds_emulator import GdsEmulator
from tools.localdns import LocalDnsServer
from tools.localredis import DEFAULT_PASSWORD, RedisServer, make_tls_files

#: The event files' region (their topic and alarm ARNs): a local run acts as that region's stack.
LOCAL_REGION = "us-west-2"
#: HeartbeatAge per minute seen by this region's replica: in sync, then no heartbeat for two minutes.
HEARTBEAT_AGES = (30.0, 31.0, 29.0, 90.0, 150.0)
#: What the promoter estimates from them, wherever in the minute it runs: the last in-sync value.
EXPECTED_LAG_ESTIMATE = HEARTBEAT_AGES[2]


def heartbeat_points(now: datetime) -> list[tuple[datetime, float]]:
    """HEARTBEAT_AGES one per minute, ending in the current minute, each at its minute's start.

    At minute starts each value has a one-minute bucket of its own (GetMetricData, period 60), so the
    promoter sees the same series, and makes the same estimate, whatever the second of the minute. (At
    ``now - n minutes`` two values shared a bucket or the climb moved by up to 59 s: 30 s or 89 s.)
    """
    this_minute = now.replace(second=0, microsecond=0)
    first = this_minute - timedelta(minutes=len(HEARTBEAT_AGES) - 1)
    return [(first + timedelta(minutes=i), age) for i, age in enumerate(HEARTBEAT_AGES)]


def peer_of(region: str) -> tuple[str, str]:
    """(region, replication group) of the emulated writer."""
    return ("us-west-2", "local-writer-usw2") if region == "us-east-1" else ("us-east-1", "local-writer-use1")


@contextlib.contextmanager
def local_aws(logical_id: str, environment: Mapping[str, str], region: str) -> Iterator[dict[str, str]]:
    """moto + the Global Datastore emulator (+ a local redis-server for the probe) while the handler runs.

    Yields the function's environment with what the emulated world adds (the probe's server and secret).
    """
    from moto import mock_aws

    env = dict(environment)
    with mock_aws(), _emulated_elasticache(env, region), contextlib.ExitStack() as cleanup:
        if logical_id == "PromoteFunction":
            _seed_promote_world(env, region)
        if logical_id == "ProbeFunction" and not env.get("REDIS_HOST"):
            env |= _start_local_redis(cleanup, region)
        if logical_id == "ProbeFunction" and env.get("WITNESS_RECORD_NAME") and not env.get("WITNESS_RESOLVER"):
            env |= _start_local_resolver(cleanup, env["WITNESS_RECORD_NAME"], region)
        yield env


@contextlib.contextmanager
def _emulated_elasticache(env: Mapping[str, str], region: str) -> Iterator[GdsEmulator]:
    peer_region, peer_group = peer_of(region)
    emulator = GdsEmulator(
        gds_id=env.get("GLOBAL_REPLICATION_GROUP_ID") or "local-gds",
        roles={
            peer_group: (peer_region, "PRIMARY"),
            env.get("REPLICATION_GROUP_ID") or "local-replica": (region, "SECONDARY"),
        },
        polls_until_switch=0,
    )
    real_client = boto3.client

    def client(service_name: str, *args: Any, **kwargs: Any) -> Any:
        built = real_client(service_name, *args, **kwargs)  # type: ignore[call-overload]
        if service_name == "elasticache":
            emulator.attach(built)
        return built

    boto3.client = client
    try:
        yield emulator
    finally:
        boto3.client = real_client


def _seed_promote_world(env: Mapping[str, str], region: str) -> None:
    now = datetime.now(UTC)
    if table := env.get("LEDGER_TABLE_NAME"):
        boto3.client("dynamodb", region_name=region).create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    dimensions = [
        {"Name": "service", "Value": env.get("POWERTOOLS_SERVICE_NAME") or "gds-failover"},
        {"Name": "ReplicationGroupId", "Value": env.get("REPLICATION_GROUP_ID") or "local-replica"},
    ]
    data: list[Any] = [
        {"MetricName": "HeartbeatAge", "Dimensions": dimensions, "Timestamp": stamp, "Value": age}
        for stamp, age in heartbeat_points(now)
    ]
    data.append(
        {"MetricName": "Reachable", "Dimensions": dimensions, "Timestamp": now - timedelta(seconds=70), "Value": 1}
    )
    namespace = env.get("POWERTOOLS_METRICS_NAMESPACE") or "Custom/Redis"
    boto3.client("cloudwatch", region_name=region).put_metric_data(Namespace=namespace, MetricData=data)
    # The writer region's own probe, probe by probe: reaching its Redis, then failing for the last 150 s
    # (longer than the in-region ceiling: the writer is gone, not failing over inside its region).
    peer_region, peer_group = peer_of(region)
    writer = [{**dimension} for dimension in dimensions]
    writer[1]["Value"] = peer_group
    own = [
        {
            "MetricName": "Reachable",
            "Dimensions": writer,
            "Timestamp": now - timedelta(seconds=seconds),
            "Value": 0.0 if seconds <= 150 else 1.0,
            "StorageResolution": 1,
        }
        for seconds in range(300, 0, -30)
    ]
    boto3.client("cloudwatch", region_name=peer_region).put_metric_data(Namespace=namespace, MetricData=own)
    if alarm := env.get("PEER_WRITER_ALARM_NAME"):
        peer_region = peer_of(region)[0]
        put_writer_alarm(peer_region, alarm, "ALARM", "emulated: the writer is gone")
        # The writer died when its heartbeat stopped: its alarm went to ALARM with the first stale minute,
        # not now (a later death would count the minutes in between as lost writes).
        first_stale = next(stamp for stamp, age in heartbeat_points(now) if age > 60)
        _backdate_alarm_state(peer_region, alarm, first_stale)


def put_writer_alarm(region: str, name: str, state: str, reason: str = "emulated") -> None:
    """A writer alarm in (moto) CloudWatch as template.yaml defines WriterAlarm (defaults), in ``state``."""
    template = load_template()
    props = template["Resources"]["WriterAlarm"]["Properties"]
    defaults = parameter_defaults(template)

    def value(item: Any) -> str:
        return defaults[item["Ref"]] if isinstance(item, dict) and "Ref" in item else str(item)

    cloudwatch = boto3.client("cloudwatch", region_name=region)
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=props["Namespace"],
        MetricName=props["MetricName"],
        Statistic=props["Statistic"],
        Period=int(value(props["Period"])),
        EvaluationPeriods=int(value(props["EvaluationPeriods"])),
        Threshold=float(props["Threshold"]),
        ComparisonOperator=props["ComparisonOperator"],
        TreatMissingData=props["TreatMissingData"],
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def _backdate_alarm_state(region: str, name: str, when: datetime) -> None:
    """moto stamps a state change with the time of the call; the emulated world's happened earlier."""
    from moto.cloudwatch.models import cloudwatch_backends

    for account in cloudwatch_backends:
        alarms = cloudwatch_backends[account][region].alarms
        if name in alarms:
            alarms[name].state_updated_timestamp = when.astimezone(UTC).replace(tzinfo=None)


def _start_local_resolver(cleanup: contextlib.ExitStack, record_name: str, region: str) -> dict[str, str]:
    """The VPC resolver: the emulated writer's witness record answers ``unhealthy`` (the writer is gone),
    this region's ``healthy``; any other name does not exist."""
    answers = {
        witness_name(peer_of(region)[0], record_name): (UNHEALTHY, WITNESS_TTL_SECONDS),
        witness_name(region, record_name): (HEALTHY, WITNESS_TTL_SECONDS),
    }
    server = LocalDnsServer(answers.get).start()
    cleanup.callback(server.close)
    return {"WITNESS_RESOLVER": server.address}


def _start_local_redis(cleanup: contextlib.ExitStack, region: str) -> dict[str, str]:
    workdir = Path(tempfile.mkdtemp(prefix="gds-invoke-"))
    cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
    tls = make_tls_files(workdir / "tls")
    server = RedisServer(name="invoke", tls=tls, password=DEFAULT_PASSWORD).start()
    cleanup.callback(server.stop)
    secret_arn = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="gds-failover/local-redis-auth", SecretString=DEFAULT_PASSWORD
    )["ARN"]
    return {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_TLS": "true",
        "REDIS_TLS_CA_FILE": str(tls.ca_cert),
        "REDIS_AUTH_SECRET_ARN": secret_arn,
    }
