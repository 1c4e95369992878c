"""The switchover pre-checks, one row per situation (pure: no AWS, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gdfailover.cloudwatch import ProbeSeries
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreMember
from gdfailover.ledger import Latch
from gdfailover.switchover import Observations, SwitchoverRequest, evaluate_prechecks

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
GDS = "ldgnf-my-gds"
TARGET_REGION, TARGET_RG = "us-east-1", "my-gds-use1"
WRITER_REGION, WRITER_RG = "us-west-2", "my-gds-usw2"
REQUEST = SwitchoverRequest(GDS, TARGET_REGION, TARGET_RG, max_lag_seconds=40)


THIRD_REGION, THIRD_RG = "eu-west-1", "my-gds-euw1"


def datastore(
    status: str = "available",
    target_role: str = "SECONDARY",
    writer_role: str = "PRIMARY",
    third: tuple[str, str] | None = None,
) -> GlobalDatastore:
    """Two members, or three with ``third`` = (role, member status) for the other secondary."""
    members = (
        GlobalDatastoreMember(TARGET_RG, TARGET_REGION, target_role, "associated"),
        GlobalDatastoreMember(WRITER_RG, WRITER_REGION, writer_role, "associated"),
    )
    if third is not None:
        members += (GlobalDatastoreMember(THIRD_RG, THIRD_REGION, *third),)
    return GlobalDatastore(GDS, status, members)


def series(
    reachable: float = 1, heartbeat_age: float = 22, link_up: float = 1, age: timedelta = timedelta(seconds=90)
) -> ProbeSeries:
    stamp = NOW - age
    older = stamp - timedelta(minutes=1)
    return ProbeSeries(
        reachable=((older, 1.0), (stamp, reachable)),
        heartbeat_age=((older, 20.0), (stamp, heartbeat_age)),
        replication_link_up=((older, 1.0), (stamp, link_up)),
    )


def latch(until: timedelta) -> Latch:
    return Latch("msg-123", NOW - timedelta(minutes=10), NOW + until, "failover primary")


HEALTHY = Observations(NOW, datastore(), None, series(), None, None, None)

ALL = (
    "datastore-available",
    "target-is-secondary",
    "target-replica-reachable",
    "writer-heartbeat-recent",
    "replication-link-up",
    "no-active-latch",
    "other-secondaries",
)

# (id, observation changes, request changes, the checks that fail, a phrase of the first failure's message)
ROWS: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...], str]] = [
    ("all pass", {}, {}, (), ""),
    ("datastore modifying", {"datastore": datastore("modifying")}, {}, ("datastore-available",), "modifying"),
    (
        "datastore not describable",
        {"datastore": None, "datastore_error": "DescribeGlobalReplicationGroups failed (unreachable)"},
        {},
        ("datastore-available", "target-is-secondary", "other-secondaries"),
        "unreachable",
    ),
    (
        "target not a member",
        {},
        {"target_replication_group_id": "someone-else"},
        ("target-is-secondary",),
        "not a member",
    ),
    ("target in another region", {}, {"target_region": "eu-west-1"}, ("target-is-secondary",), "not a member"),
    (
        "no primary at all",
        {"datastore": datastore(writer_role="SECONDARY")},
        {},
        ("target-is-secondary",),
        "not a planned switchover",
    ),
    (
        "target replica down",
        {"series": series(reachable=0)},
        {},
        ("target-replica-reachable",),
        "did not answer",
    ),
    (
        "probe metrics stale",
        {"series": series(age=timedelta(minutes=6))},
        {},
        ("target-replica-reachable", "writer-heartbeat-recent", "replication-link-up"),
        "is the probe running",
    ),
    (
        "probe metrics unreadable",
        {"series": None, "metrics_error": "GetMetricData failed (access_denied)"},
        {},
        ("target-replica-reachable", "writer-heartbeat-recent", "replication-link-up"),
        "access_denied",
    ),
    (
        "no datapoints",
        {"series": ProbeSeries((), (), ())},
        {},
        ("target-replica-reachable", "writer-heartbeat-recent", "replication-link-up"),
        "no Reachable datapoint",
    ),
    (
        "target behind the writer",
        {"series": series(heartbeat_age=75)},
        {},
        ("writer-heartbeat-recent",),
        "would lose writes",
    ),
    ("stricter lag gate", {}, {"max_lag_seconds": 10}, ("writer-heartbeat-recent",), "limit 10s"),
    (
        "replication link dropped",
        {"series": series(link_up=0)},
        {},
        ("replication-link-up",),
        "lost its link",
    ),
    (
        "latch active in the target region",
        {"latch": latch(timedelta(minutes=50))},
        {},
        ("no-active-latch",),
        "looks like flapping",
    ),
    ("latch expired", {"latch": latch(-timedelta(seconds=1))}, {}, (), ""),
    (
        "ledger unreadable",
        {"ledger_error": "GetItem failed (throttled)"},
        {},
        ("no-active-latch",),
        "cannot read the promotion ledger",
    ),
    # --- three regions: the target is either secondary, the third member is reported ---------------------
    ("three regions, all associated", {"datastore": datastore(third=("SECONDARY", "associated"))}, {}, (), ""),
    (
        "three regions, the target is the other secondary",
        {"datastore": datastore(third=("SECONDARY", "associated"))},
        {"target_region": THIRD_REGION, "target_replication_group_id": THIRD_RG},
        (),
        "",
    ),
    (
        "three regions, the third member is still associating",
        {"datastore": datastore(third=("SECONDARY", "associating"))},
        {},
        ("other-secondaries",),
        "may not follow the new primary",
    ),
    (
        "three regions, the target is the writer's region",
        {"datastore": datastore(third=("SECONDARY", "associated"))},
        {"target_region": WRITER_REGION, "target_replication_group_id": WRITER_RG},
        (),
        "",
    ),
]


@pytest.mark.parametrize(
    ("observation_changes", "request_changes", "failing", "phrase"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_prechecks(
    observation_changes: dict[str, Any], request_changes: dict[str, Any], failing: tuple[str, ...], phrase: str
) -> None:
    checks = evaluate_prechecks(replace(HEALTHY, **observation_changes), replace(REQUEST, **request_changes))
    assert tuple(check.name for check in checks) == ALL
    assert tuple(check.name for check in checks if not check.passed) == failing
    if failing:
        first = next(check for check in checks if not check.passed)
        assert phrase in first.message


@pytest.mark.parametrize(
    ("observation_changes", "forceable"),
    [
        ({"latch": latch(timedelta(minutes=50))}, True),
        ({"ledger_error": "GetItem failed (throttled)"}, True),
        ({"series": series(heartbeat_age=75)}, False),  # data safety is never forced
        ({"series": series(link_up=0)}, False),
        ({"datastore": datastore("modifying")}, False),
        ({"datastore": datastore(third=("SECONDARY", "disassociating"))}, True),
    ],
    ids=["latch", "ledger unreadable", "lag", "link", "modifying", "third member unsettled"],
)
def test_only_the_cooldown_may_be_forced(observation_changes: dict[str, Any], forceable: bool) -> None:
    checks = evaluate_prechecks(replace(HEALTHY, **observation_changes), REQUEST)
    failed = next(check for check in checks if not check.passed)
    assert (failed.blocks(force=False), failed.blocks(force=True)) == (True, not forceable)


def test_a_target_that_is_already_primary_passes_membership() -> None:
    observations = replace(HEALTHY, datastore=datastore(target_role="PRIMARY", writer_role="SECONDARY"))
    membership = next(c for c in evaluate_prechecks(observations, REQUEST) if c.name == "target-is-secondary")
    assert (membership.passed, membership.message) == (True, "already PRIMARY")


def test_the_third_member_is_reported_in_the_plan_and_the_check() -> None:
    observations = replace(HEALTHY, datastore=datastore(third=("SECONDARY", "associated")))
    check = next(c for c in evaluate_prechecks(observations, REQUEST) if c.name == "other-secondaries")
    assert check.message == "my-gds-euw1 (eu-west-1) SECONDARY associated: will replicate from the new primary"
    two = next(c for c in evaluate_prechecks(HEALTHY, REQUEST) if c.name == "other-secondaries")
    assert (two.passed, two.message) == (True, "none (two regions)")
