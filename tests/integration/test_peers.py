"""Reading the other secondary in ITS region (moto CloudWatch + DynamoDB), then deciding succession.

This region is C (eu-west-1, priority 20); the rival is B (us-west-2, priority 10); A (us-east-1) was the writer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from gdfailover.awscall import BOUNDED_CONFIG
from gdfailover.cloudwatch import ProbeMetrics
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreMember
from gdfailover.ledger import PromotionLedger
from gdfailover.peers import RivalSources, boto3_rival_sources, observe_rival
from gdfailover.succession import Candidacy, Peer, Situation, Verdict, decide_succession
from tests.conftest import create_ledger_table

GDS = "ldgnf-my-gds"
RIVAL_REGION, RIVAL_RG, RIVAL_TABLE = "us-west-2", "my-gds-usw2", "gds-failover-LedgerTable-B"
PEER = Peer(RIVAL_REGION, RIVAL_RG, 10, RIVAL_TABLE)
MEMBER = GlobalDatastoreMember(RIVAL_RG, RIVAL_REGION, "SECONDARY", "associated")
DATASTORE = GlobalDatastore(
    GDS,
    "available",
    (
        GlobalDatastoreMember("my-gds-use1", "us-east-1", "PRIMARY", "associated"),
        MEMBER,
        GlobalDatastoreMember("my-gds-euw1", "eu-west-1", "SECONDARY", "associated"),
    ),
)


def publish(now: datetime, reachable: list[float], heartbeat_age: list[float], region: str = RIVAL_REGION) -> None:
    """One datapoint a minute, oldest first, ending two minutes ago (the probe's EMF as CloudWatch stores it)."""
    dimensions = [{"Name": "service", "Value": "gds-failover"}, {"Name": "ReplicationGroupId", "Value": RIVAL_RG}]
    client = boto3.client("cloudwatch", region_name=region)
    count = len(reachable)
    for index, (up, age) in enumerate(zip(reachable, heartbeat_age, strict=True)):
        stamp = (now - timedelta(minutes=2 + count - 1 - index)).replace(second=0, microsecond=0)
        client.put_metric_data(
            Namespace="Custom/Redis",
            MetricData=[
                {"MetricName": "Reachable", "Dimensions": dimensions, "Timestamp": stamp, "Value": up},
                {"MetricName": "HeartbeatAge", "Dimensions": dimensions, "Timestamp": stamp, "Value": age},
            ],
        )


@pytest.fixture
def now() -> Iterator[datetime]:
    with mock_aws():
        create_ledger_table(RIVAL_TABLE, RIVAL_REGION)
        yield datetime.now(UTC)


def sources() -> RivalSources:
    return boto3_rival_sources("Custom/Redis", "gds-failover")


def decide_for_c(view_now: datetime, trigger: datetime) -> Verdict:
    view = observe_rival(MEMBER, PEER, GDS, view_now, sources())
    situation = Situation(
        me=Candidacy("eu-west-1", "my-gds-euw1", 20, replica_healthy=True, lag_seconds=8.0),
        rival=view,
        datastore=DATASTORE,
        incident_started_at=trigger,
        now=view_now,
        grace=timedelta(seconds=150),
        max_lag_seconds=120.0,
    )
    return decide_succession(situation).verdict


def test_a_healthy_fresh_rival_is_read_in_its_region_and_makes_c_wait(now: datetime) -> None:
    publish(now, reachable=[1, 1, 1, 1, 1], heartbeat_age=[10, 12, 11, 70, 130])
    view = observe_rival(MEMBER, PEER, GDS, now, sources())
    assert (view.metrics_error, view.ledger_error, view.latch) == (None, None, None)
    assert view.reachable is not None
    assert view.reachable[1] == 1.0
    assert view.lag_seconds == 11.0  # HeartbeatAge just before it started to climb
    assert view.priority == 10
    assert decide_for_c(now, trigger=now - timedelta(seconds=30)) == Verdict.WAIT


def test_a_rival_whose_replica_is_down_lets_c_go_now(now: datetime) -> None:
    publish(now, reachable=[1, 1, 1, 0, 0], heartbeat_age=[10, 12, 11, 70, 130])
    view = observe_rival(MEMBER, PEER, GDS, now, sources())
    assert view.reachable is not None
    assert view.reachable[1] == 0.0
    assert decide_for_c(now, trigger=now - timedelta(seconds=30)) == Verdict.GO


def test_a_rival_over_the_lag_gate_lets_c_go_now(now: datetime) -> None:
    publish(now, reachable=[1] * 6, heartbeat_age=[200, 230, 300, 360, 420, 480])
    view = observe_rival(MEMBER, PEER, GDS, now, sources())
    assert view.lag_seconds is None  # climbing the whole window: its own promoter cannot estimate either
    assert decide_for_c(now, trigger=now - timedelta(seconds=30)) == Verdict.GO


def test_the_rivals_latch_in_its_own_ledger_makes_c_yield(now: datetime) -> None:
    publish(now, reachable=[1, 1, 1], heartbeat_age=[10, 70, 130])
    ledger = PromotionLedger(boto3.client("dynamodb", region_name=RIVAL_REGION), RIVAL_TABLE)
    assert ledger.acquire(GDS, "sns-b-1", now - timedelta(seconds=20), timedelta(minutes=60)).acquired
    view = observe_rival(MEMBER, PEER, GDS, now, sources())
    assert view.latch is not None
    assert view.latch.holder == "sns-b-1"
    assert decide_for_c(now, trigger=now - timedelta(seconds=30)) == Verdict.YIELD
    assert decide_for_c(now + timedelta(minutes=5), trigger=now - timedelta(seconds=30)) == Verdict.YIELD


def test_a_missing_ledger_table_is_recorded_not_raised(now: datetime) -> None:
    publish(now, reachable=[1], heartbeat_age=[10])
    view = observe_rival(MEMBER, Peer(RIVAL_REGION, RIVAL_RG, 10, "no-such-table"), GDS, now, sources())
    assert view.ledger_error == "GetItem not_found (ResourceNotFoundException)"
    assert view.metrics_error is None


def test_a_member_without_a_peers_entry_has_unknown_priority_and_ledger(now: datetime) -> None:
    publish(now, reachable=[1], heartbeat_age=[10])
    view = observe_rival(MEMBER, None, GDS, now, sources())
    assert view.priority is None
    assert view.ledger_error is not None
    assert "no SUCCESSION_PEERS entry" in view.ledger_error


def test_an_unreachable_rival_region_costs_one_bounded_timeout_and_reads_as_unknown(now: datetime) -> None:
    """Both of the rival region's endpoints refuse connections (a closed loopback port): one bounded attempt
    each, concurrently; C waits the grace, then goes because the datastore seen from here did not move."""
    unreachable = "http://127.0.0.1:9"

    def metrics(region: str) -> ProbeMetrics:
        client = boto3.client("cloudwatch", region_name=region, endpoint_url=unreachable, config=BOUNDED_CONFIG)
        return ProbeMetrics(client, "Custom/Redis", "gds-failover")

    def ledger(region: str, table: str) -> PromotionLedger:
        client = boto3.client("dynamodb", region_name=region, endpoint_url=unreachable, config=BOUNDED_CONFIG)
        return PromotionLedger(client, table)

    started = time.monotonic()
    view = observe_rival(MEMBER, PEER, GDS, now, RivalSources(metrics=metrics, ledger=ledger))
    assert time.monotonic() - started < 8  # BOUNDED_CONFIG: 2 attempts, connect 1 s, in parallel
    assert view.metrics_error == "GetMetricData unreachable (EndpointConnectionError)"
    assert view.ledger_error == "GetItem unreachable (EndpointConnectionError)"
    base = Situation(
        me=Candidacy("eu-west-1", "my-gds-euw1", 20, replica_healthy=True, lag_seconds=8.0),
        rival=view,
        datastore=DATASTORE,
        incident_started_at=now - timedelta(seconds=30),
        now=now,
        grace=timedelta(seconds=150),
        max_lag_seconds=120.0,
    )
    assert decide_succession(base).verdict == Verdict.WAIT
    assert decide_succession(replace(base, now=now + timedelta(seconds=200))).verdict == Verdict.GO_AFTER_GRACE
