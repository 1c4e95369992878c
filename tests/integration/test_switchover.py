"""The planned switchover on real adapters: moto (CloudWatch, DynamoDB) + the GDS emulator behind a real
boto3 ElastiCache client (every request validated against the API model).

The target is the secondary in us-west-2; the writer is in us-east-1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gdfailover.awscall import BOUNDED_CONFIG
from gdfailover.clock import FakeClock
from gdfailover.cloudwatch import ProbeMetrics, WriterHealth
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.ledger import PromotionLedger
from gdfailover.switchover import SwitchoverOutcome, SwitchoverRequest, SwitchoverResult, run_switchover
from tests.conftest import create_ledger_table, health_check_status_maxima
from tools import switchover as cli
from tools.gds_emulator import GDS_ID, PRIMARY_RG, SECONDARY_REGION, SECONDARY_RG, GdsEmulator

TABLE = "gds-failover-ledger-usw2"
REQUEST = SwitchoverRequest(GDS_ID, SECONDARY_REGION, SECONDARY_RG)


def seed_probe_metrics(now: datetime, reachable: float = 1, heartbeat_age: float = 8, link_up: float = 1) -> None:
    dimensions = [{"Name": "service", "Value": "gds-failover"}, {"Name": "ReplicationGroupId", "Value": SECONDARY_RG}]
    stamp = now - timedelta(seconds=70)
    data = [
        {"MetricName": name, "Dimensions": dimensions, "Timestamp": stamp, "Value": value}
        for name, value in (("Reachable", reachable), ("HeartbeatAge", heartbeat_age), ("ReplicationLinkUp", link_up))
    ]
    boto3.client("cloudwatch", region_name=SECONDARY_REGION).put_metric_data(Namespace="Custom/Redis", MetricData=data)


@dataclass
class World:
    now: datetime
    clock: FakeClock
    emulator: GdsEmulator
    ledger: PromotionLedger

    def run(self, request: SwitchoverRequest = REQUEST, dry_run: bool = False) -> SwitchoverResult:
        return run_switchover(
            request,
            datastores=ElastiCacheGlobalDatastores(self.emulator.client(SECONDARY_REGION)),
            probe_metrics=ProbeMetrics(
                boto3.client("cloudwatch", region_name=SECONDARY_REGION, config=BOUNDED_CONFIG),
                "Custom/Redis",
                "gds-failover",
            ),
            ledger=self.ledger,
            clock=self.clock,
            dry_run=dry_run,
            wait_seconds=120,
            writer_health=WriterHealth(
                boto3.client("cloudwatch", region_name=SECONDARY_REGION, config=BOUNDED_CONFIG),
                "Custom/Redis",
                "gds-failover",
            ),
        )

    def latch_a_promotion(self, minutes_ago: float = 10) -> None:
        taken = self.now - timedelta(minutes=minutes_ago)
        assert self.ledger.acquire(GDS_ID, "sns-message-1", taken, timedelta(minutes=60)).acquired


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    with mock_aws():
        now = datetime.now(UTC).replace(microsecond=0)
        create_ledger_table(TABLE, SECONDARY_REGION)
        ledger = PromotionLedger(boto3.client("dynamodb", region_name=SECONDARY_REGION), TABLE)
        yield World(now, FakeClock(now), GdsEmulator(), ledger)


def test_all_prechecks_pass_one_failover_then_primary_and_the_latch_is_taken(world: World) -> None:
    seed_probe_metrics(world.now)
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.SWITCHED, 0)
    assert [call.params for call in world.emulator.failover_calls] == [
        {
            "GlobalReplicationGroupId": GDS_ID,
            "PrimaryRegion": SECONDARY_REGION,
            "PrimaryReplicationGroupId": SECONDARY_RG,
        }
    ]
    assert world.emulator.roles[SECONDARY_RG] == (SECONDARY_REGION, "PRIMARY")
    latch = world.ledger.read(GDS_ID)
    assert latch is not None
    assert latch.holder.startswith("switchover by operator")
    assert latch.outcome.startswith("switchover: PRIMARY after")
    # the target region's promoter now sees a promotion inside its cooldown
    assert not world.ledger.acquire(GDS_ID, "sns-message-2", world.now, timedelta(minutes=60)).acquired


@pytest.mark.parametrize(
    ("setup", "failing_check"),
    [
        (lambda w: (seed_probe_metrics(w.now), setattr(w.emulator, "status", "modifying")), "datastore-available"),
        (lambda w: seed_probe_metrics(w.now, reachable=0), "target-replica-reachable"),
        (lambda w: seed_probe_metrics(w.now, heartbeat_age=95), "writer-heartbeat-recent"),
        (lambda w: seed_probe_metrics(w.now, link_up=0), "replication-link-up"),
        (lambda w: None, "target-replica-reachable"),  # no probe metrics at all
        (lambda w: (seed_probe_metrics(w.now), w.latch_a_promotion()), "no-active-latch"),
    ],
    ids=["modifying", "replica-down", "behind", "link-down", "no-metrics", "latch"],
)
def test_a_failed_precheck_makes_no_failover_call(world: World, setup: Any, failing_check: str) -> None:
    setup(world)
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.PRECHECK_FAILED, 1)
    assert failing_check in {check.name for check in result.plan.blocking}
    assert world.emulator.failover_calls == []


def test_dry_run_reports_the_plan_and_makes_no_call(world: World) -> None:
    seed_probe_metrics(world.now)
    result = world.run(dry_run=True)
    assert (result.outcome, result.exit_code, result.plan.ready) == (SwitchoverOutcome.DRY_RUN, 0, True)
    assert "FailoverGlobalReplicationGroup(PrimaryRegion=us-west-2" in result.describe()
    assert world.emulator.failover_calls == []
    assert world.ledger.read(GDS_ID) is None


def test_a_target_already_primary_is_nothing_to_do(world: World) -> None:
    world.emulator.roles = {PRIMARY_RG: ("us-east-1", "SECONDARY"), SECONDARY_RG: (SECONDARY_REGION, "PRIMARY")}
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.NOTHING_TO_DO, 0)
    assert world.emulator.failover_calls == []


def test_force_overrides_an_active_latch_and_leaves_it_in_place(world: World) -> None:
    seed_probe_metrics(world.now)
    world.latch_a_promotion()
    result = world.run(replace(REQUEST, force=True))
    assert (result.outcome, len(world.emulator.failover_calls)) == (SwitchoverOutcome.SWITCHED, 1)
    latch = world.ledger.read(GDS_ID)
    assert latch is not None
    assert latch.holder == "sns-message-1"
    assert any("existing latch stays" in note for note in result.notes)


def test_force_does_not_override_data_safety(world: World) -> None:
    seed_probe_metrics(world.now, heartbeat_age=95)
    result = world.run(replace(REQUEST, force=True))
    assert result.outcome == SwitchoverOutcome.PRECHECK_FAILED
    assert world.emulator.failover_calls == []


def test_a_rejected_failover_releases_the_latch_and_exits_2(world: World) -> None:
    seed_probe_metrics(world.now)
    world.emulator.fail_next("FailoverGlobalReplicationGroup", "InvalidGlobalReplicationGroupState")
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.REJECTED, 2)
    assert "InvalidGlobalReplicationGroupState" in result.detail
    assert world.ledger.read(GDS_ID) is None


def test_a_failover_that_does_not_complete_in_time_is_unconfirmed(world: World) -> None:
    seed_probe_metrics(world.now)
    world.emulator.failover_never_completes = True
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.UNCONFIRMED, 2)
    assert len(world.emulator.failover_calls) == 1
    assert result.wait is not None
    assert result.wait.waited_seconds <= 120


def test_cli_builds_bounded_clients_in_the_target_region(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_probe_metrics(datetime.now(UTC))
    built: list[Any] = []

    def emulated(client: Any) -> ElastiCacheGlobalDatastores:
        built.append(client)
        world.emulator.attach(client)
        return ElastiCacheGlobalDatastores(client)

    monkeypatch.setattr(cli, "ElastiCacheGlobalDatastores", emulated)
    argv = [
        "--global-replication-group-id",
        GDS_ID,
        "--target-region",
        SECONDARY_REGION,
        "--target-replication-group-id",
        SECONDARY_RG,
        "--ledger-table",
        TABLE,
    ]
    assert cli.main([*argv, "--dry-run"]) == 0
    assert world.emulator.failover_calls == []
    assert "[ok  ] replication-link-up" in capsys.readouterr().out
    assert cli.main([*argv, "--max-lag-seconds", "1"]) == 1
    assert world.emulator.failover_calls == []
    assert "[FAIL] writer-heartbeat-recent" in capsys.readouterr().out
    assert built[0].meta.region_name == SECONDARY_REGION
    assert built[0].meta.config.read_timeout == BOUNDED_CONFIG.read_timeout


def test_cli_usage_error_exits_2() -> None:
    with pytest.raises(SystemExit) as raised:
        cli.main(["--target-region", SECONDARY_REGION])
    assert raised.value.code == 2


def test_a_switch_announces_the_target_as_the_writer_and_a_dry_run_does_not(world: World) -> None:
    seed_probe_metrics(world.now)
    world.run(dry_run=True)
    assert health_check_status_maxima(SECONDARY_REGION, REQUEST.target_replication_group_id, datetime.now(UTC)) == []
    assert world.run().outcome == SwitchoverOutcome.SWITCHED
    assert health_check_status_maxima(SECONDARY_REGION, REQUEST.target_replication_group_id, datetime.now(UTC)) == [1.0]


def test_an_aws_error_behind_a_precheck_exits_2_not_1(world: World) -> None:
    seed_probe_metrics(world.now)
    world.emulator.fail_next("DescribeGlobalReplicationGroups", "AccessDenied", times=3)
    result = world.run()
    assert (result.outcome, result.exit_code) == (SwitchoverOutcome.PRECHECK_FAILED, 2)
    assert "datastore-available" in {check.name for check in result.plan.blocking}
    assert world.emulator.failover_calls == []


def test_cli_without_credentials_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    argv = ["--global-replication-group-id", GDS_ID, "--target-region", SECONDARY_REGION]
    assert cli.main([*argv, "--target-replication-group-id", SECONDARY_RG, "--ledger-table", TABLE]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("no AWS credentials found")
