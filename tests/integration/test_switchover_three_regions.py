"""The planned switchover with three regions, on real adapters: moto (CloudWatch, DynamoDB) + the GDS
emulator behind a real boto3 ElastiCache client. A (us-east-1) writes; B (us-west-2) and C (eu-west-1) are
secondaries, and either may be the target.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from gdfailover.awscall import BOUNDED_CONFIG
from gdfailover.clock import FakeClock
from gdfailover.cloudwatch import ProbeMetrics
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.ledger import PromotionLedger
from gdfailover.switchover import SwitchoverOutcome, SwitchoverRequest, SwitchoverResult, run_switchover
from tests.conftest import create_ledger_table
from tools.gds_emulator import GDS_ID, PRIMARY_RG, SECONDARY_REGION, SECONDARY_RG, GdsEmulator

THIRD_REGION, THIRD_RG = "eu-west-1", "my-gds-euw1"
B, C = (SECONDARY_REGION, SECONDARY_RG), (THIRD_REGION, THIRD_RG)


def seed_probe_metrics(now: datetime, target: tuple[str, str]) -> None:
    """An in-sync replica's probe metrics, in the target's region."""
    region, group = target
    dimensions = [{"Name": "service", "Value": "gds-failover"}, {"Name": "ReplicationGroupId", "Value": group}]
    stamp = now - timedelta(seconds=70)
    data = [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Value": value}
        for name, value in (("Reachable", 1), ("HeartbeatAge", 8), ("ReplicationLinkUp", 1))
    ]
    boto3.client("cloudwatch", region_name=region).put_metric_data(Namespace="Custom/Redis", MetricData=data)


@dataclass
class World:
    now: datetime
    clock: FakeClock
    emulator: GdsEmulator


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    with mock_aws():
        now = datetime.now(UTC).replace(microsecond=0)
        emulator = GdsEmulator()
        emulator.roles[THIRD_RG] = (THIRD_REGION, "SECONDARY")
        yield World(now, FakeClock(now), emulator)


def three_region_run(world: World, target: tuple[str, str]) -> SwitchoverResult:
    region, group = target
    table = f"gds-failover-ledger-{region}"
    create_ledger_table(table, region)
    return run_switchover(
        SwitchoverRequest(GDS_ID, region, group),
        datastores=ElastiCacheGlobalDatastores(world.emulator.client(region)),
        probe_metrics=ProbeMetrics(
            boto3.client("cloudwatch", region_name=region, config=BOUNDED_CONFIG), "Custom/Redis", "gds-failover"
        ),
        ledger=PromotionLedger(boto3.client("dynamodb", region_name=region), table),
        clock=world.clock,
        wait_seconds=120,
    )


@pytest.mark.parametrize(
    ("target", "bystander"),
    [(B, THIRD_RG), (C, SECONDARY_RG)],
    ids=["to-us-west-2", "to-eu-west-1"],
)
def test_three_regions_switch_to_either_secondary_and_report_the_third(
    world: World, target: tuple[str, str], bystander: str
) -> None:
    seed_probe_metrics(world.now, target)
    result = three_region_run(world, target)
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.SWITCHED, 0), result.describe()
    assert [(call.region, call.params["PrimaryRegion"]) for call in world.emulator.failover_calls] == [
        (target[0], target[0])
    ]
    assert world.emulator.roles[target[1]][1] == "PRIMARY"
    assert world.emulator.roles[bystander][1] == "SECONDARY"
    assert world.emulator.roles[PRIMARY_RG][1] == "SECONDARY"
    text = result.describe()
    assert f"[ok  ] other-secondaries: {bystander} (" in text
    assert "will replicate from the new primary" in text
    assert "members: my-gds-use1 (us-east-1) PRIMARY associated" in text


def test_three_regions_a_third_member_that_is_not_associated_blocks_unless_forced(world: World) -> None:
    seed_probe_metrics(world.now, B)
    world.emulator.member_statuses[THIRD_RG] = "associating"
    result = three_region_run(world, B)
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.PRECHECK_FAILED, 1)
    assert [check.name for check in result.plan.blocking] == ["other-secondaries"]
    assert "my-gds-euw1 (eu-west-1) SECONDARY associating" in result.describe()
    assert world.emulator.failover_calls == []


def test_three_regions_the_target_metrics_are_read_in_the_target_region(world: World) -> None:
    """Metrics for B only: a switchover to C finds no datapoint (it reads C's region), and makes no call."""
    seed_probe_metrics(world.now, B)
    result = three_region_run(world, C)
    assert result.outcome == SwitchoverOutcome.PRECHECK_FAILED
    assert "target-replica-reachable" in {check.name for check in result.plan.blocking}
    assert world.emulator.failover_calls == []
