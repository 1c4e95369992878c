"""The Global Datastore emulator (tools/gds_emulator.py): requests validated, state transitions, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ParamValidationError

from gdfailover.awscall import AwsCallError, ErrorKind
from gdfailover.clock import FakeClock
from gdfailover.elasticache import (
    ElastiCacheGlobalDatastores,
    ReplicationGroupActivity,
    WaitStatus,
    wait_until_primary,
)
from tools.gds_emulator import GDS_ID, PRIMARY_REGION, PRIMARY_RG, SECONDARY_REGION, SECONDARY_RG, GdsEmulator


def test_requests_are_validated_against_the_elasticache_model() -> None:
    client = GdsEmulator().client(SECONDARY_REGION)
    with pytest.raises(ParamValidationError):
        client.failover_global_replication_group(GlobalReplicationGroupId=GDS_ID, PrimaryRegion="us-west-2")


def test_failover_switches_roles_after_the_configured_number_of_polls() -> None:
    emulator = GdsEmulator(polls_until_switch=2)
    api = ElastiCacheGlobalDatastores(emulator.client(SECONDARY_REGION))
    api.failover(GDS_ID, SECONDARY_REGION, SECONDARY_RG)
    clock = FakeClock(start=datetime(2025, 5, 1, tzinfo=UTC))
    result = wait_until_primary(api, GDS_ID, SECONDARY_RG, clock=clock, timeout_seconds=60, interval_seconds=5)
    assert (result.status, result.polls, clock.slept) == (WaitStatus.PRIMARY, 3, [5, 5])
    assert emulator.failover_calls[0].params == {
        "GlobalReplicationGroupId": GDS_ID,
        "PrimaryRegion": SECONDARY_REGION,
        "PrimaryReplicationGroupId": SECONDARY_RG,
    }


def test_an_unreachable_region_surfaces_as_an_unreachable_call_error() -> None:
    emulator = GdsEmulator(unreachable_regions={PRIMARY_REGION})
    api = ElastiCacheGlobalDatastores(emulator.client(PRIMARY_REGION))
    with pytest.raises(AwsCallError) as raised:
        api.describe(GDS_ID)
    assert raised.value.kind == ErrorKind.UNREACHABLE


def test_in_region_failover_is_read_from_the_writer_regions_api() -> None:
    started = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    emulator = GdsEmulator(
        group_status={PRIMARY_RG: "modifying"},
        events=[
            (started, f"{PRIMARY_RG}-001", "cache-cluster", "Recovering cache nodes 0001"),
            (started, "some-other-group-001", "cache-cluster", "Failover from primary node x to replica node y"),
            (started, PRIMARY_RG, "replication-group", "Snapshot succeeded"),
        ],
    )
    api = ElastiCacheGlobalDatastores(emulator.client(PRIMARY_REGION))
    activity = api.replication_group_activity(PRIMARY_RG, since=started.replace(minute=0) - timedelta(minutes=5))
    assert activity.status == "modifying"
    assert activity.failover_events == ((started, "Recovering cache nodes 0001"),)
    assert (activity.in_progress, activity.failover_started) == (True, started)


def test_finished_recovery_ends_the_in_region_failover() -> None:
    started = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    activity = ReplicationGroupActivity(
        PRIMARY_RG,
        "available",
        (
            (started, "Recovering cache nodes 0001"),
            (started + timedelta(seconds=30), "Failover from primary node a-001 to replica node a-002 completed"),
            (started + timedelta(seconds=90), "Finished recovery for cache nodes 0001"),
        ),
    )
    assert (activity.in_progress, activity.failover_started) == (False, None)
