"""The promotion decision, table-driven: case name -> evidence -> expected decision and key reason.

Baseline evidence is a real outage seen from the secondary (us-west-2): the trigger alarm just went
to ALARM, the datastore is available with us-east-1 primary, this region's replica answers, Route 53
says the writer is unhealthy, the lag before the failure was 30 s. Each case changes what it names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import ErrorKind
from gdfailover.decision import Outcome, Policy, decide, should_break_glass
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreMember, ReplicationGroupActivity
from gdfailover.evidence import (
    NO_REPLICATION_LINK_DATA,
    CallFailure,
    Evidence,
    LagEstimate,
    LocalHealth,
    ReplicationLink,
    Vote,
    WriterSignal,
)
from gdfailover.ledger import Latch, Pause
from gdfailover.succession import RivalView

NOW = datetime(2025, 5, 1, 12, 2, tzinfo=UTC)
ACCOUNT, REGION, PEER = "111122223333", "us-west-2", "us-east-1"
TRIGGER = "gds-failover-promotion-trigger-my-gds-usw2"
PEER_WRITER_ALARM = "gds-failover-writer-my-gds-use1"
POLICY = Policy(
    account_id=ACCOUNT,
    region=REGION,
    replication_group_id="my-gds-usw2",
    trigger_alarm_names=frozenset({TRIGGER, PEER_WRITER_ALARM}),
    mode="auto",
    cooldown=timedelta(minutes=60),
    max_lag_seconds=120,
    max_notification_age=timedelta(minutes=10),
    peer_writer_alarm_name=PEER_WRITER_ALARM,
)

R53_DEAD = WriterSignal(
    "route53", Vote.DEAD, "writer health check unhealthy: 0/16 checkers report healthy", outside=True
)
R53_ALIVE = WriterSignal(
    "route53", Vote.ALIVE, "writer health check healthy: 16/16 checkers report healthy", outside=True
)
R53_UNREACHABLE = WriterSignal(
    "route53", Vote.UNKNOWN, "GetHealthCheckStatus failed: unreachable", transient=True, outside=True
)
PEER_ALARM_OK = WriterSignal(f"peer_alarm@{PEER}", Vote.ALIVE, "writer alarm is OK")
PEER_UNREACHABLE = WriterSignal(
    f"peer_alarm@{PEER}", Vote.DEAD, "writer region CloudWatch unreachable", unreachable=True
)
CONTROL_PLANE_UNREACHABLE = WriterSignal(
    f"peer_control_plane@{PEER}", Vote.DEAD, "writer region ElastiCache API unreachable", unreachable=True
)
THIRD_REGION_LOST_IT = WriterSignal(
    "third_region@eu-west-1", Vote.DEAD, "its replica reads the writer's heartbeat 120s old", outside=True
)
THIRD_REGION_REPLICATES = WriterSignal(
    "third_region@eu-west-1", Vote.ALIVE, "its replica read the writer's heartbeat 8s old", outside=True
)
#: The writer region does not answer from here (a lost region or a partition: the same view)
UNREACHABLE_REGION = {"peer_control_plane": "unreachable"}
PEER_ALARM_DEAD = WriterSignal(f"peer_alarm@{PEER}", Vote.DEAD, "writer alarm in ALARM")
LINK_UP = ReplicationLink(1.0, NOW - timedelta(seconds=60))
#: The trigger went to ALARM longer ago than LINK_UP_GRACE: a link still up now is a live writer.
OLD_ALARM = timedelta(seconds=120)
PROBE_DEAD = WriterSignal(f"peer_probe@{PEER}", Vote.DEAD, "writer's own probe failed its last 3 probes", fresh=True)
PROBE_ALIVE = WriterSignal(f"peer_probe@{PEER}", Vote.ALIVE, "writer's own probe reached it", fresh=True)
THIRD = "eu-west-1"
THREE_MEMBERS = GlobalDatastore(
    "ldgnf-my-gds",
    "available",
    (
        GlobalDatastoreMember("my-gds-use1", PEER, "PRIMARY", "associated"),
        GlobalDatastoreMember("my-gds-usw2", REGION, "SECONDARY", "associated"),
        GlobalDatastoreMember("my-gds-euw1", THIRD, "SECONDARY", "associated"),
    ),
)
#: The other secondary, healthy and fresh, preferred (priority 10 < this region's default 100)
RIVAL = RivalView(
    THIRD,
    "my-gds-euw1",
    10,
    reachable=(NOW - timedelta(seconds=30), 1.0),
    lag_seconds=20.0,
)
FAILING_OVER = ReplicationGroupActivity(
    "my-gds-use1", "available", ((NOW - timedelta(seconds=40), "Test Failover API called for node group 0001"),)
)
R53_THROTTLED = WriterSignal(
    "route53", Vote.UNKNOWN, "GetHealthCheckStatus failed: throttled", transient=True, outside=True
)


def notification(**changes: Any) -> AlarmNotification:
    base = AlarmNotification(
        message_id="95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:gds-failover-PromotionTopic",
        alarm_name=TRIGGER,
        account_id=ACCOUNT,
        new_state="ALARM",
        old_state="OK",
        state_change_time=NOW - timedelta(seconds=50),
        reason="Threshold Crossed",
        alarm_arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{TRIGGER}",
    )
    return replace(base, **changes)


def datastore(status: str = "available", local_role: str = "SECONDARY") -> GlobalDatastore:
    peer_role = "SECONDARY" if local_role == "PRIMARY" else "PRIMARY"
    return GlobalDatastore(
        "ldgnf-my-gds",
        status,
        (
            GlobalDatastoreMember("my-gds-use1", PEER, peer_role, "associated"),
            GlobalDatastoreMember("my-gds-usw2", REGION, local_role, "associated"),
        ),
    )


BASELINE = Evidence(
    notification=notification(),
    gathered_at=NOW,
    datastore=datastore(),
    datastore_failure=None,
    local=LocalHealth(1.0, NOW - timedelta(seconds=90)),
    writer_signals=(R53_DEAD,),
    lag=LagEstimate(30.0, "HeartbeatAge before it started climbing"),
    latch=None,
    peer_region=PEER,
    peer_control_plane="reachable",
    # the writer's own first failed probe: longer ago than the in-region ceiling (120 s)
    writer_unavailable_since=NOW - timedelta(seconds=150),
)
#: make pause, an hour ago, for two hours; and one that expired a minute ago
PAUSE = Pause(
    "load test in us-west-2", "arn:aws:iam::111122223333:user/ana", NOW - timedelta(hours=1), NOW + timedelta(hours=1)
)
EXPIRED_PAUSE = replace(PAUSE, until=NOW - timedelta(minutes=1))
#: The alarm fired longer ago than OUTSIDE_CONFIRMATION_HOLD (180 s)
LONG_AGO = timedelta(seconds=200)


@dataclass(frozen=True)
class Case:
    name: str
    changes: dict[str, Any]
    outcome: Outcome
    code: str
    policy: Policy = POLICY


def failure(kind: ErrorKind, code: str, operation: str = "DescribeGlobalReplicationGroups") -> CallFailure:
    return CallFailure(operation, kind, code)


CASES = [
    # real outages promote
    Case("writer region outage, Route 53 unhealthy", {}, Outcome.PROMOTE, "promote"),
    Case(
        "writer region unreachable from here, Route 53 unhealthy: a lost region",
        {"writer_signals": (R53_DEAD, PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE), **UNREACHABLE_REGION},
        Outcome.PROMOTE,
        "promote",
    ),
    # partitions: unreachable is not evidence of death by itself
    Case(
        "writer region unreachable, Route 53 sees the writer healthy: re-ask (Route 53 lags)",
        {"writer_signals": (R53_ALIVE, PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE), **UNREACHABLE_REGION},
        Outcome.HOLD,
        "outside-says-alive",
    ),
    Case(
        "writer region unreachable, Route 53 still healthy after the hold: a partition",
        {
            "writer_signals": (R53_ALIVE, PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE),
            "notification": notification(state_change_time=NOW - LONG_AGO),
            **UNREACHABLE_REGION,
        },
        Outcome.REFUSE,
        "writer-alive",
    ),
    Case(
        "writer region unreachable, no outside vantage configured",
        {"writer_signals": (PEER_UNREACHABLE,), **UNREACHABLE_REGION},
        Outcome.HOLD,
        "no-outside-confirmation",
    ),
    Case(
        "writer in us-east-1 unreachable, Route 53's API with it, two regions: a human decides",
        {
            "writer_signals": (R53_UNREACHABLE, PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE),
            "notification": notification(state_change_time=NOW - LONG_AGO),
            **UNREACHABLE_REGION,
        },
        Outcome.REFUSE,
        "no-outside-confirmation",
    ),
    Case(
        "Route 53's API unreachable, the third region lost the writer too: a lost region",
        {
            "writer_signals": (R53_UNREACHABLE, PEER_UNREACHABLE, THIRD_REGION_LOST_IT),
            "datastore": THREE_MEMBERS,
            "rival": replace(RIVAL, priority=200),
            **UNREACHABLE_REGION,
        },
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "Route 53 unhealthy but the third region still replicates from the writer: blocked",
        {
            "writer_signals": (R53_DEAD, PEER_UNREACHABLE, THIRD_REGION_REPLICATES),
            "datastore": THREE_MEMBERS,
            "rival": replace(RIVAL, priority=200),
            **UNREACHABLE_REGION,
        },
        Outcome.HOLD,
        "outside-says-alive",
    ),
    Case(
        "fast path: peer writer alarm delivered from the peer region",
        {
            "notification": notification(
                alarm_name=PEER_WRITER_ALARM,
                alarm_arn=f"arn:aws:cloudwatch:{PEER}:{ACCOUNT}:alarm:{PEER_WRITER_ALARM}",
                topic_arn=f"arn:aws:sns:{PEER}:{ACCOUNT}:gds-failover-PromotionTopic",
            )
        },
        Outcome.PROMOTE,
        "promote",
    ),
    # the notification itself
    Case(
        "alarm back to OK",
        {"notification": notification(new_state="OK", old_state="ALARM")},
        Outcome.NOOP,
        "not-alarm",
    ),
    Case(
        "INSUFFICIENT_DATA",
        {"notification": notification(new_state="INSUFFICIENT_DATA")},
        Outcome.NOOP,
        "not-alarm",
    ),
    Case(
        "another account",
        {"notification": notification(account_id="444455556666")},
        Outcome.NOOP,
        "foreign-account",
    ),
    Case(
        "another alarm",
        {"notification": notification(alarm_name="payments-high-cpu")},
        Outcome.NOOP,
        "foreign-alarm",
    ),
    Case(
        "our trigger alarm name but from another region",
        {"notification": notification(alarm_arn=f"arn:aws:cloudwatch:{PEER}:{ACCOUNT}:alarm:{TRIGGER}")},
        Outcome.NOOP,
        "foreign-region",
    ),
    Case(
        "stale redelivery (state change 20 minutes ago)",
        {"notification": notification(state_change_time=NOW - timedelta(minutes=20))},
        Outcome.NOOP,
        "stale",
    ),
    Case(
        "state change from the future",
        {"notification": notification(state_change_time=NOW + timedelta(minutes=5))},
        Outcome.NOOP,
        "future",
    ),
    # the datastore
    Case(
        "this region is already PRIMARY",
        {"datastore": datastore(local_role="PRIMARY")},
        Outcome.NOOP,
        "already-primary",
    ),
    Case(
        "datastore modifying",
        {"datastore": datastore(status="modifying")},
        Outcome.HOLD,
        "datastore-modifying",
    ),
    Case(
        "datastore deleting",
        {"datastore": datastore(status="deleting")},
        Outcome.REFUSE,
        "datastore-not-available",
    ),
    Case(
        "describe throttled",
        {"datastore": None, "datastore_failure": failure(ErrorKind.THROTTLED, "Throttling")},
        Outcome.HOLD,
        "datastore-unavailable",
    ),
    Case(
        "describe denied by IAM",
        {"datastore": None, "datastore_failure": failure(ErrorKind.ACCESS_DENIED, "AccessDenied")},
        Outcome.REFUSE,
        "datastore-unavailable",
    ),
    # cooldown / latch
    Case(
        "inside the cooldown of an earlier promotion",
        {"latch": Latch("other-message", NOW - timedelta(minutes=10), NOW + timedelta(minutes=50))},
        Outcome.REFUSE,
        "cooldown",
    ),
    Case(
        "after the cooldown expired",
        {"latch": Latch("other-message", NOW - timedelta(hours=2), NOW - timedelta(hours=1))},
        Outcome.PROMOTE,
        "promote",
    ),
    # this region's replica
    Case(
        "local replica does not answer",
        {"local": LocalHealth(0.0, NOW - timedelta(seconds=60))},
        Outcome.REFUSE,
        "local-replica-down",
    ),
    Case(
        "local probe silent for 10 minutes",
        {"local": LocalHealth(1.0, NOW - timedelta(minutes=10))},
        Outcome.REFUSE,
        "local-health-stale",
    ),
    Case(
        "no local probe data at all",
        {"local": LocalHealth(None, None)},
        Outcome.REFUSE,
        "local-health-unknown",
    ),
    # second vantage
    Case(
        "blip: the writer is healthy per Route 53",
        {"writer_signals": (R53_ALIVE,)},
        Outcome.REFUSE,
        "writer-alive",
    ),
    Case(
        "replication-only break: writer alarm OK in the writer region",
        {"writer_signals": (PEER_ALARM_OK,)},
        Outcome.REFUSE,
        "writer-alive",
    ),
    Case(
        "views disagree (Route 53 unhealthy, writer alarm OK)",
        {"writer_signals": (R53_DEAD, PEER_ALARM_OK)},
        Outcome.HOLD,
        "vantages-disagree",
    ),
    Case(
        "second vantage throttled",
        {"writer_signals": (R53_THROTTLED,)},
        Outcome.HOLD,
        "confirmation-unavailable",
    ),
    Case("no second vantage configured", {"writer_signals": ()}, Outcome.REFUSE, "no-confirmation"),
    # this region's replica's own link to the writer: a vantage independent of the writer region's probe
    Case(
        "link still up 50 s after the alarm: hold for the replica's link timeout",
        {"writer_signals": (R53_DEAD, PEER_ALARM_DEAD), "replication_link": LINK_UP},
        Outcome.HOLD,
        "writer-link-up",
    ),
    Case(
        "probe broken in the writer region while this replica's link stays up",
        {
            "writer_signals": (R53_DEAD, PEER_ALARM_DEAD),
            "replication_link": LINK_UP,
            "notification": notification(state_change_time=NOW - OLD_ALARM),
        },
        Outcome.REFUSE,
        "writer-alive",
    ),
    Case(
        "link up outvotes an unreachable writer-region CloudWatch",
        {
            **UNREACHABLE_REGION,
            "writer_signals": (R53_DEAD, PEER_UNREACHABLE),
            "replication_link": LINK_UP,
            "notification": notification(state_change_time=NOW - OLD_ALARM),
        },
        Outcome.REFUSE,
        "writer-alive",
    ),
    Case(
        "the latest per-probe link datapoint outranks the per-minute one",
        {
            "replication_link": LINK_UP,
            "recent_link_up": (NOW - timedelta(seconds=10), 0.0),
        },
        Outcome.PROMOTE,
        "promote",
    ),
    # fresh (per-probe) evidence outranks the minute-resolution views
    Case(
        "writer's own probes failing outrank a Route 53 check that has not caught up",
        {"writer_signals": (R53_ALIVE, PEER_ALARM_OK, PROBE_DEAD)},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "writer's own probe healthy outranks a Route 53 check that says unhealthy",
        {"writer_signals": (R53_DEAD, PROBE_ALIVE)},
        Outcome.REFUSE,
        "writer-alive",
    ),
    # an in-region (Multi-AZ) failover in the writer's region is not a lost writer
    Case(
        "writer unavailable 50 s, its region's APIs answer: hold to the in-region ceiling",
        {"writer_signals": (R53_DEAD, PROBE_DEAD), "writer_unavailable_since": NOW - timedelta(seconds=50)},
        Outcome.HOLD,
        "in-region-ceiling",
    ),
    Case(
        "own probes unreadable, APIs answer: the ceiling counts from the alarm",
        {"writer_unavailable_since": None},
        Outcome.HOLD,
        "in-region-ceiling",
    ),
    Case(
        "a visible in-region failover event extends the hold past the ceiling",
        {"writer_signals": (R53_DEAD, PROBE_DEAD), "peer_activity": FAILING_OVER},
        Outcome.HOLD,
        "in-region-failover",
    ),
    Case(
        "group modifying without events does not extend the ceiling",
        {"peer_activity": ReplicationGroupActivity("my-gds-use1", "modifying", ())},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "in-region failover event beyond the grace, writer still gone",
        {
            "writer_signals": (R53_DEAD, PROBE_DEAD),
            "peer_activity": ReplicationGroupActivity(
                "my-gds-use1",
                "available",
                ((NOW - timedelta(seconds=150), "Failover from master node my-gds-use1-001 to replica node x"),),
            ),
        },
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "finished in-region recovery is no reason to hold",
        {
            "peer_activity": ReplicationGroupActivity(
                "my-gds-use1",
                "available",
                (
                    (NOW - timedelta(seconds=90), "Recovering cache nodes 0001"),
                    (NOW - timedelta(seconds=20), "Finished recovery for cache nodes 0001"),
                ),
            )
        },
        Outcome.PROMOTE,
        "promote",
    ),
    # the writer came back before the promoter looked
    Case(
        "a probe after the alarm read a fresh heartbeat",
        {"recent_heartbeat_age": (NOW - timedelta(seconds=5), 3.0)},
        Outcome.NOOP,
        "writer-recovered",
        replace(POLICY, heartbeat_threshold_seconds=55),
    ),
    Case(
        "a probe after the alarm read a heartbeat still above the threshold",
        {"recent_heartbeat_age": (NOW - timedelta(seconds=5), 70.0)},
        Outcome.PROMOTE,
        "promote",
        replace(POLICY, heartbeat_threshold_seconds=55),
    ),
    Case(
        "a fresh heartbeat read before the alarm says nothing about now",
        {"recent_heartbeat_age": (NOW - timedelta(seconds=60), 3.0)},
        Outcome.PROMOTE,
        "promote",
        replace(POLICY, heartbeat_threshold_seconds=55),
    ),
    Case(
        "real outage with the replication link down",
        {
            "writer_signals": (R53_DEAD, PEER_ALARM_DEAD),
            "replication_link": ReplicationLink(0.0, NOW - timedelta(seconds=60)),
        },
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "no ReplicationLinkUp datapoints (INFO restricted, older probe): no vote",
        {"writer_signals": (R53_DEAD, PEER_ALARM_DEAD), "replication_link": NO_REPLICATION_LINK_DATA},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "link last seen up 10 minutes ago: stale, no vote",
        {"replication_link": ReplicationLink(1.0, NOW - timedelta(minutes=10))},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "link up but this region's replica does not answer",
        {"local": LocalHealth(0.0, NOW - timedelta(seconds=60)), "replication_link": LINK_UP},
        Outcome.REFUSE,
        "local-replica-down",
    ),
    # three regions: the other secondary (gdfailover.succession decides; wired after every other check)
    Case(
        "three regions, the other secondary is preferred and may be promoting: wait for it",
        {"datastore": THREE_MEMBERS, "rival": RIVAL},
        Outcome.HOLD,
        "succession-wait",
    ),
    Case(
        "three regions, this region is preferred",
        {"datastore": THREE_MEMBERS, "rival": replace(RIVAL, priority=200)},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "three regions, the preferred secondary's replica is down (seen in its region)",
        {"datastore": THREE_MEMBERS, "rival": replace(RIVAL, reachable=(NOW - timedelta(seconds=30), 0.0))},
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "three regions, the preferred secondary took its latch for this incident",
        {
            "datastore": THREE_MEMBERS,
            "rival": replace(
                RIVAL,
                latch=Latch("msg-9", NOW - timedelta(seconds=20), NOW + timedelta(hours=1)),
            ),
        },
        Outcome.REFUSE,
        "yield-rival-latched",
    ),
    Case(
        "three regions, the preferred secondary did not act within the grace",
        {
            "datastore": THREE_MEMBERS,
            "rival": RIVAL,
            "notification": notification(state_change_time=NOW - timedelta(seconds=200)),
        },
        Outcome.PROMOTE,
        "promote",
    ),
    Case(
        "three regions, the other secondary could not be observed: wait for it",
        {
            "datastore": THREE_MEMBERS,
            "rival": RivalView(THIRD, "my-gds-euw1", None, metrics_error="not observed", ledger_error="not observed"),
        },
        Outcome.HOLD,
        "succession-wait",
    ),
    # data loss gate
    Case(
        "lag above MAX_LAG_SECONDS",
        {"lag": LagEstimate(300.0, "HeartbeatAge before the climb")},
        Outcome.REFUSE,
        "lag-above-gate",
    ),
    Case("lag unknown", {"lag": LagEstimate(None, "no HeartbeatAge datapoints")}, Outcome.REFUSE, "lag-unknown"),
    # modes
    Case("notify mode, real outage", {}, Outcome.PROMOTE, "promote", replace(POLICY, mode="notify")),
    Case("dry-run mode, real outage", {}, Outcome.PROMOTE, "promote", replace(POLICY, mode="dry-run")),
    # an operator paused automatic promotion (make pause): a hold, never in the way of a noop
    Case("paused: a real outage holds, nothing acts", {"pause": PAUSE}, Outcome.HOLD, "paused"),
    Case(
        "paused, dry-run mode: still paused", {"pause": PAUSE}, Outcome.HOLD, "paused", replace(POLICY, mode="dry-run")
    ),
    Case("an expired pause is ignored", {"pause": EXPIRED_PAUSE}, Outcome.PROMOTE, "promote"),
    Case(
        "paused: the alarm back to OK is still a noop",
        {"pause": PAUSE, "notification": notification(new_state="OK", old_state="ALARM")},
        Outcome.NOOP,
        "not-alarm",
    ),
    Case(
        "paused: another team's alarm is still a noop",
        {"pause": PAUSE, "notification": notification(alarm_name="payments-high-cpu")},
        Outcome.NOOP,
        "foreign-alarm",
    ),
    Case(
        "paused: this region already PRIMARY is still a noop",
        {"pause": PAUSE, "datastore": datastore(local_role="PRIMARY")},
        Outcome.NOOP,
        "already-primary",
    ),
    Case(
        "paused: the writer came back is still a noop",
        {"pause": PAUSE, "recent_heartbeat_age": (NOW - timedelta(seconds=5), 3.0)},
        Outcome.NOOP,
        "writer-recovered",
        replace(POLICY, heartbeat_threshold_seconds=55),
    ),
    Case(
        "paused: no re-checking hold while paused (link up, in-region ceiling)",
        {"pause": PAUSE, "replication_link": LINK_UP, "writer_unavailable_since": NOW - timedelta(seconds=50)},
        Outcome.HOLD,
        "paused",
    ),
    Case(
        "paused: a refusal about this region's replica still says so",
        {"pause": PAUSE, "local": LocalHealth(0.0, NOW - timedelta(seconds=60))},
        Outcome.REFUSE,
        "local-replica-down",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_decision_table(case: Case) -> None:
    decision = decide(replace(BASELINE, **case.changes), case.policy)
    assert (decision.outcome, decision.code) == (case.outcome, case.code), decision.reasons
    assert decision.reasons, "every decision explains itself"
    assert decision.act == (case.outcome == Outcome.PROMOTE and case.policy.mode == "auto")
    # a paused hold is not re-checked: a pause ends by make resume or its expiry, not within the promoter's run
    assert decision.transient == (case.outcome == Outcome.HOLD and case.code != "paused")


def test_the_table_is_big_enough_and_covers_every_outcome() -> None:
    assert len(CASES) >= 15
    assert {case.outcome for case in CASES} == set(Outcome)


def test_notify_and_dry_run_say_what_would_have_happened() -> None:
    for mode in ("notify", "dry-run"):
        decision = decide(BASELINE, replace(POLICY, mode=mode))
        assert not decision.act
        assert decision.reasons[-1] == f"mode {mode}: would promote, taking no action"


def test_a_succession_wait_says_when_to_look_again() -> None:
    decision = decide(replace(BASELINE, datastore=THREE_MEMBERS, rival=RIVAL), POLICY)
    # the grace (180 s) runs from the trigger, which fired 50 s before the evidence was gathered
    assert decision.retry_after == timedelta(seconds=130)
    assert decision.reasons[0].startswith("grace: my-gds-euw1 (eu-west-1) is preferred")


def test_a_live_replication_link_refusal_names_the_link() -> None:
    evidence = replace(
        BASELINE,
        writer_signals=(R53_DEAD, PEER_ALARM_DEAD),
        replication_link=LINK_UP,
        notification=notification(state_change_time=NOW - OLD_ALARM),
    )
    decision = decide(evidence, POLICY)
    assert decision.code == "writer-alive"
    assert "replicating from the writer" in decision.reasons[0]
    assert "60s ago" in decision.reasons[0]
    assert decision.rpo_seconds == 30.0


def test_a_promotion_carries_its_data_loss_estimate_and_evidence() -> None:
    decision = decide(BASELINE, POLICY)
    assert decision.rpo_seconds == 30.0
    assert any("route53" in reason for reason in decision.reasons)


BREAK_GLASS = replace(POLICY, break_glass_disassociate=True)
OUTAGE = replace(BASELINE, peer_control_plane="unreachable", writer_signals=(R53_DEAD, CONTROL_PLANE_UNREACHABLE))
REJECTED = CallFailure("FailoverGlobalReplicationGroup", ErrorKind.OTHER, "InternalFailure")


@pytest.mark.parametrize(
    ("name", "evidence", "policy", "failover_failure", "became_primary", "expected"),
    [
        ("failover worked", OUTAGE, BREAK_GLASS, None, True, False),
        ("off by default", OUTAGE, POLICY, REJECTED, False, False),
        ("writer control plane answers", BASELINE, BREAK_GLASS, REJECTED, False, False),
        (
            "denied by IAM",
            OUTAGE,
            BREAK_GLASS,
            CallFailure("FailoverGlobalReplicationGroup", ErrorKind.ACCESS_DENIED, "AccessDenied"),
            False,
            False,
        ),
        ("notify mode", OUTAGE, replace(BREAK_GLASS, mode="notify"), REJECTED, False, False),
        ("opted in, control plane gone, failover rejected", OUTAGE, BREAK_GLASS, REJECTED, False, True),
        ("opted in, control plane gone, failover never completed", OUTAGE, BREAK_GLASS, None, False, True),
    ],
)
def test_break_glass_only_when_opted_in_and_the_writer_control_plane_is_gone(
    *,
    name: str,
    evidence: Evidence,
    policy: Policy,
    failover_failure: CallFailure | None,
    became_primary: bool,
    expected: bool,
) -> None:
    use, reason = should_break_glass(evidence, policy, failover_failure, became_primary)
    assert use == expected, reason


def test_a_paused_hold_names_who_why_and_until_and_is_not_re_checked() -> None:
    decision = decide(replace(BASELINE, pause=PAUSE), POLICY)
    assert (decision.outcome, decision.code, decision.transient, decision.retry_after) == (
        Outcome.HOLD,
        "paused",
        False,
        None,
    )
    (reason,) = decision.reasons
    assert PAUSE.who in reason
    assert PAUSE.reason in reason
    assert PAUSE.until.isoformat() in reason
    assert decision.rpo_seconds == BASELINE.lag.seconds
