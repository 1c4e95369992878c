"""The promoter end to end on real adapters: moto (CloudWatch, Route 53, DynamoDB) + the GDS emulator.

Time is a FakeClock: hold retries and the failover poll are budgets, asserted as behaviour (how
often it slept, what it concluded), never by waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import BOUNDED_CONFIG, AwsCallError, ErrorKind
from gdfailover.clock import FakeClock
from gdfailover.cloudwatch import Alarms, ProbeMetrics, WriterHealth
from gdfailover.config import PromoteSettings
from gdfailover.decision import Outcome, Policy
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.evidence import EvidenceSources
from gdfailover.ledger import Pause, PromotionLedger
from gdfailover.promote_service import first_pause_notice
from gdfailover.promoter import POLL_INTERVAL_SECONDS, DecisionPublisher, DecisionRecord, Promoter
from gdfailover.route53 import Route53HealthChecks
from gdfailover.succession import RivalView
from tests import conftest
from tools.gds_emulator import (
    GDS_ID,
    PRIMARY_REGION,
    PRIMARY_RG,
    SECONDARY_REGION,
    SECONDARY_RG,
    GdsEmulator,
)
from tools.localaws import put_writer_alarm

ACCOUNT = "123456789012"  # moto's account
TRIGGER = "gds-failover-promotion-trigger-my-gds-usw2"
PEER_WRITER_ALARM = "gds-failover-writer-my-gds-use1"
TABLE = "gds-failover-ledger"


def settings(**changes: Any) -> PromoteSettings:
    base = PromoteSettings(
        global_replication_group_id=GDS_ID,
        replication_group_id=SECONDARY_RG,
        region=SECONDARY_REGION,
        ledger_table_name=TABLE,
        trigger_alarm_names=(TRIGGER,),
        peer_writer_alarm_name=PEER_WRITER_ALARM,
        failover_wait_seconds=120,
    )
    return replace(base, **changes)


def create_ledger_table(region: str = SECONDARY_REGION) -> None:
    conftest.create_ledger_table(TABLE, region)


def seed_probe_metrics(now: datetime, reachable: float = 1.0, ages: tuple[float, ...] = (30, 31, 29, 90, 150)) -> None:
    """This region's probe: replica answering, HeartbeatAge flat then climbing (the writer died)."""
    dimensions = [
        {"Name": "service", "Value": "gds-failover"},
        {"Name": "ReplicationGroupId", "Value": SECONDARY_RG},
    ]
    start = now - timedelta(minutes=len(ages))
    data = [
        {
            "MetricName": "HeartbeatAge",
            "Dimensions": dimensions,
            "Timestamp": start + timedelta(minutes=i),
            "Value": age,
        }
        for i, age in enumerate(ages)
    ]
    data.append(
        {
            "MetricName": "Reachable",
            "Dimensions": dimensions,
            "Timestamp": now - timedelta(seconds=70),
            "Value": reachable,
        }
    )
    boto3.client("cloudwatch", region_name=SECONDARY_REGION).put_metric_data(Namespace="Custom/Redis", MetricData=data)


def seed_replication_link(now: datetime, values: tuple[float, ...]) -> None:
    """ReplicationLinkUp datapoints of this region's probe, all in the minute before ``now``."""
    dimensions = [
        {"Name": "service", "Value": "gds-failover"},
        {"Name": "ReplicationGroupId", "Value": SECONDARY_RG},
    ]
    data = [
        {
            "MetricName": "ReplicationLinkUp",
            "Dimensions": dimensions,
            "Timestamp": now - timedelta(seconds=70) + timedelta(seconds=i),
            "Value": value,
        }
        for i, value in enumerate(values)
    ]
    boto3.client("cloudwatch", region_name=SECONDARY_REGION).put_metric_data(Namespace="Custom/Redis", MetricData=data)


def seed_writer_probes(now: datetime, failing_for: timedelta = timedelta(seconds=180)) -> None:
    """The writer region's own probe (30 s cadence): reaching its Redis, then failing for ``failing_for``
    (longer than the in-region ceiling by default: the writer is gone, not moving)."""
    dimensions = [
        {"Name": "service", "Value": "gds-failover"},
        {"Name": "ReplicationGroupId", "Value": PRIMARY_RG},
    ]
    stamps = [now - timedelta(seconds=seconds) for seconds in range(300, 0, -30)]
    data = [
        {
            "MetricName": "Reachable",
            "Dimensions": dimensions,
            "Timestamp": stamp,
            "Value": 0.0 if now - stamp <= failing_for else 1.0,
            "StorageResolution": 1,
        }
        for stamp in stamps
    ]
    boto3.client("cloudwatch", region_name=PRIMARY_REGION).put_metric_data(Namespace="Custom/Redis", MetricData=data)


def set_peer_writer_alarm(state: str) -> None:
    put_writer_alarm(PRIMARY_REGION, PEER_WRITER_ALARM, state)


def alarm_notification(now: datetime, message_id: str = "msg-1", **changes: Any) -> AlarmNotification:
    base = AlarmNotification(
        message_id=message_id,
        topic_arn=f"arn:aws:sns:{SECONDARY_REGION}:{ACCOUNT}:gds-failover-PromotionTopic",
        alarm_name=TRIGGER,
        account_id=ACCOUNT,
        new_state="ALARM",
        old_state="OK",
        state_change_time=now - timedelta(seconds=40),
        reason="Threshold Crossed",
        alarm_arn=f"arn:aws:cloudwatch:{SECONDARY_REGION}:{ACCOUNT}:alarm:{TRIGGER}",
    )
    return replace(base, **changes)


@dataclass
class World:
    now: datetime
    clock: FakeClock
    emulator: GdsEmulator
    ledger: PromotionLedger

    def promoter(self, promote_settings: PromoteSettings, rival: RivalView | None = None) -> Promoter:
        datastores = ElastiCacheGlobalDatastores(self.emulator.client(SECONDARY_REGION))
        sources = EvidenceSources(
            datastores=datastores,
            peer_datastores=lambda region: ElastiCacheGlobalDatastores(self.emulator.client(region)),
            probe_metrics=ProbeMetrics(
                boto3.client("cloudwatch", region_name=SECONDARY_REGION, config=BOUNDED_CONFIG),
                "Custom/Redis",
                "gds-failover",
            ),
            peer_alarms=lambda region: Alarms(boto3.client("cloudwatch", region_name=region, config=BOUNDED_CONFIG)),
            health_checks=Route53HealthChecks(boto3.client("route53", config=BOUNDED_CONFIG)),
            ledger=self.ledger,
            peer_probe_metrics=lambda region: ProbeMetrics(
                boto3.client("cloudwatch", region_name=region, config=BOUNDED_CONFIG), "Custom/Redis", "gds-failover"
            ),
            rival=(lambda member, now: rival) if rival is not None else None,
            pauses=self.ledger,
        )
        return Promoter(
            settings=promote_settings,
            policy=Policy.from_settings(promote_settings, ACCOUNT),
            sources=sources,
            datastores=datastores,
            ledger=self.ledger,
            clock=self.clock,
            writer_health=WriterHealth(
                boto3.client("cloudwatch", region_name=SECONDARY_REGION, config=BOUNDED_CONFIG),
                "Custom/Redis",
                "gds-failover",
            ),
        )

    def run(self, promote_settings: PromoteSettings | None = None, **changes: Any) -> DecisionRecord:
        chosen = promote_settings or settings()
        return self.promoter(chosen).run(alarm_notification(self.now, **changes), self.clock.monotonic() + 890)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    with mock_aws():
        now = datetime.now(UTC).replace(microsecond=0)
        create_ledger_table()
        seed_probe_metrics(now)
        seed_writer_probes(now)
        set_peer_writer_alarm("ALARM")
        ledger = PromotionLedger(boto3.client("dynamodb", region_name=SECONDARY_REGION), TABLE)
        yield World(now, FakeClock(now), GdsEmulator(), ledger)


def test_a_real_outage_promotes_this_region_once_and_waits_until_it_is_primary(world: World) -> None:
    record = world.run()
    assert (record.decision.outcome, record.decision.code, record.action["result"]) == (
        Outcome.PROMOTE,
        "promote",
        "primary",
    )
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
    assert (latch.holder, latch.outcome) == ("msg-1", "failover primary")
    document = record.as_dict()
    # HeartbeatAge before the climb; moto stamps the writer alarm with the real time, hence approx
    assert document["rpo_estimate_seconds"] == pytest.approx(29, abs=2)
    assert document["evidence"]["writer_signals"][0]["vote"] == "dead"
    assert document["acted"] is True


def test_a_second_notification_inside_the_cooldown_is_refused(world: World) -> None:
    world.run()
    world.emulator.roles = {  # someone failed back by hand: this region is secondary again
        PRIMARY_RG: (PRIMARY_REGION, "PRIMARY"),
        SECONDARY_RG: (SECONDARY_REGION, "SECONDARY"),
    }
    world.clock.advance(600)
    record = world.run(message_id="msg-2", state_change_time=world.clock.now() - timedelta(seconds=30))
    assert (record.decision.outcome, record.decision.code) == (Outcome.REFUSE, "cooldown")
    assert len(world.emulator.failover_calls) == 1


def test_a_redelivery_after_the_promotion_is_a_noop(world: World) -> None:
    world.run()
    record = world.run()
    assert (record.decision.outcome, record.decision.code) == (Outcome.NOOP, "already-primary")
    assert len(world.emulator.failover_calls) == 1


def test_a_blip_the_writer_alarm_calls_ok_is_refused(world: World) -> None:
    set_peer_writer_alarm("OK")
    seed_writer_probes(world.now, failing_for=timedelta(0))  # its own probes reach it too
    record = world.run()
    assert (record.decision.outcome, record.decision.code) == (Outcome.REFUSE, "writer-alive")
    assert world.emulator.failover_calls == []


def test_this_replica_still_replicating_refuses_whatever_the_writer_alarm_says(world: World) -> None:
    seed_replication_link(world.now, (1.0, 1.0))
    record = world.run(settings(hold_retry_attempts=10, hold_retry_delay_seconds=15))
    # first held for the replica's link timeout (LINK_UP_GRACE after the alarm), then refused
    assert record.hold_history[:1] == ("writer-link-up",)
    assert (record.decision.outcome, record.decision.code) == (Outcome.REFUSE, "writer-alive")
    assert "replicating from the writer" in record.decision.reasons[0]
    assert record.as_dict()["evidence"]["replication_link_up"] == 1.0
    assert world.emulator.failover_calls == []


def test_a_link_that_went_down_within_the_minute_is_no_vote(world: World) -> None:
    seed_replication_link(world.now, (1.0, 0.0))  # per-minute Minimum: not every probe saw the link up
    record = world.run()
    assert (record.decision.outcome, record.decision.code) == (Outcome.PROMOTE, "promote")
    assert record.as_dict()["evidence"]["replication_link_up"] == 0.0


def test_route53_saying_the_writer_is_healthy_refuses(world: World) -> None:
    health_check = boto3.client("route53").create_health_check(
        CallerReference="writer",
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "example.com", "Port": 443},
    )["HealthCheck"]["Id"]
    # moto reports every checker healthy; the writer's own probes reach it: the writer alarm's ALARM is stale
    seed_writer_probes(world.now, failing_for=timedelta(0))
    record = world.run(settings(peer_health_check_id=health_check, hold_retry_attempts=1))
    assert (record.decision.outcome, record.decision.code) == (Outcome.REFUSE, "writer-alive")
    route53 = next(s for s in record.evidence.writer_signals if s.source == "route53")
    assert (route53.vote.value, route53.outside) == ("alive", True)
    assert world.emulator.failover_calls == []


def test_a_modifying_datastore_is_re_checked_a_bounded_number_of_times(world: World) -> None:
    world.emulator.status = "modifying"
    record = world.run(settings(hold_retry_attempts=3, hold_retry_delay_seconds=20))
    assert (record.decision.outcome, record.decision.code) == (Outcome.HOLD, "datastore-modifying")
    assert (record.attempts, record.hold_history, world.clock.slept) == (
        3,
        ("datastore-modifying", "datastore-modifying"),
        [20, 20],
    )
    assert world.emulator.failover_calls == []


def test_a_throttled_describe_is_retried_and_then_promotes(world: World) -> None:
    world.emulator.fail_next("DescribeGlobalReplicationGroups", "Throttling", "Rate exceeded")
    record = world.run()
    assert (record.decision.outcome, record.attempts, record.hold_history) == (
        Outcome.PROMOTE,
        2,
        ("datastore-unavailable",),
    )
    assert len(world.emulator.failover_calls) == 1


def test_no_retry_when_the_lambda_deadline_is_too_close(world: World) -> None:
    world.emulator.status = "modifying"
    promoter = world.promoter(settings(hold_retry_attempts=5))
    record = promoter.run(alarm_notification(world.now), deadline=world.clock.monotonic() + 30)
    assert (record.decision.code, record.attempts, world.clock.slept) == ("datastore-modifying", 1, [])


def test_invalid_state_on_failover_releases_the_latch_and_holds(world: World) -> None:
    world.emulator.fail_next(
        "FailoverGlobalReplicationGroup", "InvalidGlobalReplicationGroupState", "not available", times=3
    )
    record = world.run(settings(hold_retry_attempts=3))
    assert (record.decision.outcome, record.decision.code, record.attempts) == (Outcome.HOLD, "failover-rejected", 3)
    assert record.action["error"]["code"] == "InvalidGlobalReplicationGroupState"
    assert world.emulator.roles[SECONDARY_RG][1] == "SECONDARY"
    assert world.ledger.read(GDS_ID) is None, "a rejected failover must not leave the cooldown latch behind"


def test_access_denied_on_failover_refuses_without_retrying(world: World) -> None:
    world.emulator.fail_next("FailoverGlobalReplicationGroup", "AccessDenied", "not authorized")
    record = world.run()
    assert (record.decision.outcome, record.decision.code, record.attempts) == (Outcome.REFUSE, "failover-denied", 1)
    assert world.emulator.roles[SECONDARY_RG][1] == "SECONDARY"
    assert world.ledger.read(GDS_ID) is None


def test_a_failover_that_never_completes_ends_with_a_clear_unconfirmed_outcome(world: World) -> None:
    world.emulator.failover_never_completes = True
    record = world.run(settings(failover_wait_seconds=60))
    assert (record.decision.outcome, record.decision.code, record.action["result"]) == (
        Outcome.PROMOTE,
        "promote-unconfirmed",
        "unconfirmed",
    )
    assert record.action["wait"]["waited_seconds"] <= 60
    assert "not PRIMARY after" in record.decision.reasons[-1]
    assert world.ledger.read(GDS_ID) is not None, "the latch stays: the failover may still complete"


def test_break_glass_disassociates_when_opted_in_and_the_writer_control_plane_is_gone(world: World) -> None:
    world.emulator.failover_never_completes = True
    world.emulator.unreachable_regions.add(PRIMARY_REGION)
    record = world.run(settings(break_glass_disassociate=True, failover_wait_seconds=30))
    assert record.action["break_glass"]["used"] is True
    assert record.decision.code == "promote-break-glass"
    assert [call.params for call in world.emulator.operations("DisassociateGlobalReplicationGroup")] == [
        {
            "GlobalReplicationGroupId": GDS_ID,
            "ReplicationGroupId": SECONDARY_RG,
            "ReplicationGroupRegion": SECONDARY_REGION,
        }
    ]


def test_break_glass_stays_off_by_default(world: World) -> None:
    world.emulator.failover_never_completes = True
    world.emulator.unreachable_regions.add(PRIMARY_REGION)
    record = world.run(settings(failover_wait_seconds=30))
    assert record.action["break_glass"] == {"used": False, "reason": "BREAK_GLASS_DISASSOCIATE is off"}
    assert world.emulator.operations("DisassociateGlobalReplicationGroup") == []


@pytest.mark.parametrize("mode", ["notify", "dry-run"])
def test_notify_and_dry_run_decide_but_never_act(world: World, mode: str) -> None:
    record = world.run(settings(mode=mode))
    assert (record.decision.outcome, record.decision.act, record.action) == (Outcome.PROMOTE, False, {"taken": "none"})
    assert record.subject.startswith(f"gds-failover {mode.upper()}: would promote")
    assert world.emulator.failover_calls == []
    assert world.ledger.read(GDS_ID) is None


def test_a_lag_above_the_gate_is_refused(world: World) -> None:
    record = world.run(settings(max_lag_seconds=20))  # the seeded lag before the failure is ~29 s
    assert (record.decision.outcome, record.decision.code) == (Outcome.REFUSE, "lag-above-gate")
    assert world.emulator.failover_calls == []


def test_an_accepted_promotion_announces_the_new_writer_to_its_alarm(world: World) -> None:
    record = world.run()
    assert record.action["health_datapoint"] == "published"
    assert conftest.health_check_status_maxima(SECONDARY_REGION, SECONDARY_RG, world.now) == [1.0]


def test_a_rejected_promotion_announces_nothing(world: World) -> None:
    world.emulator.fail_next("FailoverGlobalReplicationGroup", "AccessDenied")
    record = world.run()
    assert record.decision.code == "failover-denied"
    assert "health_datapoint" not in record.action
    assert conftest.health_check_status_maxima(SECONDARY_REGION, SECONDARY_RG, world.now) == []


def test_announcing_can_be_switched_off(world: World) -> None:
    record = world.run(settings(publish_health_on_promotion=False))
    assert record.action["health_datapoint"] == "off"
    assert conftest.health_check_status_maxima(SECONDARY_REGION, SECONDARY_RG, world.now) == []


def test_a_multi_az_failover_in_the_writer_region_holds_then_promotes_once_the_grace_is_over(world: World) -> None:
    """The group stays available (as ElastiCache shows it); the event seen 30 s ago extends the hold to
    120 s after it, past the in-region ceiling counted from the alarm (40 s ago): timed re-checks of 15 s."""
    world.emulator.events.append(
        (
            world.now - timedelta(seconds=30),
            f"{PRIMARY_RG}-001",
            "cache-cluster",
            "Test Failover API called for node group 0001",
        )
    )
    record = world.run(settings(hold_retry_attempts=10, hold_retry_delay_seconds=15))
    assert set(record.hold_history) <= {"in-region-failover", "in-region-ceiling"}
    assert "in-region-failover" in record.hold_history
    # held until 120 s after the event, then one poll of the failover wait
    assert sum(world.clock.slept) == pytest.approx(90 + POLL_INTERVAL_SECONDS, abs=1)
    assert (record.decision.outcome, record.decision.code) == (Outcome.PROMOTE, "promote")
    assert record.as_dict()["evidence"]["peer_activity"]["status"] == "available"


def test_the_in_region_ceiling_holds_a_writer_whose_region_answers_even_without_any_event(world: World) -> None:
    """No event, group available, the writer's own probes failing for 60 s: the ceiling (120 s from its first
    failed probe) holds whatever DescribeEvents shows, then the evidence decides."""
    seed_writer_probes(world.now, failing_for=timedelta(seconds=60))
    record = world.run(settings(hold_retry_attempts=10, hold_retry_delay_seconds=15))
    assert set(record.hold_history) == {"in-region-ceiling"}
    # 120 s from the end of its first failed probe's 5 s bucket (60 s ago), then one poll of the wait
    assert sum(world.clock.slept) == pytest.approx(65 + POLL_INTERVAL_SECONDS, abs=1)
    assert (record.decision.outcome, record.decision.code) == (Outcome.PROMOTE, "promote")


def test_three_regions_the_lower_priority_secondary_waits_the_grace_then_promotes(world: World) -> None:
    """The preferred secondary (priority 10) shows a healthy replica but never acts: this one (priority
    100) waits out the 180 s grace inside one invocation, re-checking, then promotes once."""
    world.emulator.roles["my-gds-euw1"] = ("eu-west-1", "SECONDARY")
    rival = RivalView("eu-west-1", "my-gds-euw1", 10, reachable=(world.now, 1.0), lag_seconds=10.0)
    promoter = world.promoter(settings(), rival)
    record = promoter.run(alarm_notification(world.now), world.clock.monotonic() + 890)
    assert set(record.hold_history) == {"succession-wait"}
    assert (record.decision.outcome, record.decision.code) == (Outcome.PROMOTE, "promote")
    assert any(reason.startswith("succession go-after-grace (rival-did-not)") for reason in record.decision.reasons)
    # the trigger fired 40 s before the run began: 140 s of grace left, waited in one step
    assert world.clock.slept[0] == pytest.approx(140)
    assert len(world.emulator.failover_calls) == 1


class Pages:
    def __init__(self) -> None:
        self.subjects: list[str] = []

    def publish(self, subject: str, record: dict[str, Any]) -> None:
        self.subjects.append(subject)


class NoMetrics:
    def add_dimension(self, name: str, value: str) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = None) -> None: ...
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...


def test_a_paused_promoter_decides_once_does_not_act_and_pages_once_per_pause(world: World) -> None:
    pause = Pause("game day", "arn:aws:iam::123456789012:user/ana", world.now, world.now + timedelta(hours=1))
    world.ledger.pause(GDS_ID, pause)
    pages = Pages()
    publisher = DecisionPublisher(
        log=lambda message, record: None,
        metrics=NoMetrics(),
        notifier=pages,
        pause_notice=lambda record: first_pause_notice(world.ledger, record),
    )
    slept_before = list(world.clock.slept)
    first = world.run(settings(hold_retry_attempts=10, hold_retry_delay_seconds=15))
    assert (first.decision.outcome, first.decision.code, first.attempts) == (Outcome.HOLD, "paused", 1)
    assert world.clock.slept == slept_before  # no re-check loop while paused
    assert world.emulator.failover_calls == []
    assert world.ledger.read(GDS_ID) is None  # no latch taken
    publisher.publish(first)
    publisher.publish(world.run(message_id="msg-2"))  # the next wake-up: logged and counted, not paged
    assert pages.subjects == [f"gds-failover HOLD for {SECONDARY_RG} ({SECONDARY_REGION}): paused"]
    # a new pause is a new page
    world.ledger.pause(GDS_ID, replace(pause, paused_at=world.now + timedelta(seconds=1)))
    publisher.publish(world.run(message_id="msg-3"))
    assert len(pages.subjects) == 2


def test_resume_lets_the_next_notification_promote(world: World) -> None:
    world.ledger.pause(GDS_ID, Pause("x", "me", world.now, world.now + timedelta(hours=1)))
    assert world.run().decision.code == "paused"
    assert world.ledger.resume(GDS_ID) is not None
    assert world.run(message_id="msg-2").decision.code == "promote"
    assert len(world.emulator.failover_calls) == 1


def test_a_paused_hold_pages_anyway_when_the_notice_cannot_be_recorded(world: World) -> None:
    world.ledger.pause(GDS_ID, Pause("x", "me", world.now, world.now + timedelta(hours=1)))
    pages, warnings = Pages(), []

    def broken(record: DecisionRecord) -> bool:
        raise AwsCallError("UpdateItem", ErrorKind.THROTTLED, "ThrottlingException", "slow down")

    publisher = DecisionPublisher(
        log=lambda message, record: None,
        metrics=NoMetrics(),
        notifier=pages,
        warn=lambda message, extra: warnings.append(message),
        pause_notice=broken,
    )
    publisher.publish(world.run())
    assert len(pages.subjects) == 1
    assert warnings == ["pause notice bookkeeping failed: paging anyway"]
