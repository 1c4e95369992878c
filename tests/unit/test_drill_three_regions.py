"""The drill's three-region emulation: Route 53's nested failover answer and the three-member datastore.

The Route 53 answers are checked against the documented semantics for every combination of healthy
writers, for the record layout the drill builds (tools.drill.world.stack_records: what template.yaml's
FailoverRecord / SecondaryPoolRecord / SecondariesAliasRecord create; tests/template/test_drill_records.py
compares the two). The datastore emulator runs on real redis-servers.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import pytest

from gdfailover.awscall import AwsCallError, ErrorKind
from tools.drill.cloud import (
    AlarmSpec,
    AlarmTransition,
    EmulatedAlarm,
    EmulatedRoute53,
    FailoverRecord,
    GlobalDatastoreEmulator,
    Member,
)
from tools.drill.run import matches
from tools.drill.sim import Simulation
from tools.drill.world import THREE_REGIONS, TWO_REGIONS, Region, absolute, is_witness, stack_records
from tools.localredis import RedisServer

ZONE = "Z0DRILL"
HEALTH_LAG_S = 30.0


def _alarm(region: str) -> EmulatedAlarm:
    spec = AlarmSpec(
        logical_id="WriterAlarm",
        name=f"writer-{region}",
        region=region,
        namespace="Custom/Redis",
        metric_name="HealthCheckStatus",
        dimensions=(),
        statistic="Maximum",
        period_s=60,
        evaluation_periods=1,
        threshold=1.0,
        comparison="LessThanThreshold",
        treat_missing="breaching",
    )
    return EmulatedAlarm(spec)


def _set(alarm: EmulatedAlarm, state: str, at: float) -> None:
    alarm.history.append(AlarmTransition(at, alarm.state, state, "test"))
    alarm.state = state


def _regions(layouts: tuple[Any, ...]) -> dict[str, Region]:
    regions = {}
    for layout in layouts:
        region = Region(
            layout.label,
            layout.name,
            layout.role,
            layout.replication_group_id,
            cast(RedisServer, None),  # records need no server
            parameters={"RecordName": "redis.internal", **layout.parameters},
            endpoint_name=f"master.{layout.replication_group_id}.example",
            health_check_id=f"hc-{layout.label}",
            writer_alarm=_alarm(layout.name),
        )
        regions[layout.label] = region
    return regions


def _route53(regions: dict[str, Region]) -> EmulatedRoute53:
    """The records as the drill reads them back from (moto) Route 53, built straight from stack_records."""
    records = []
    for region in regions.values():
        for record in stack_records(region, ZONE, 10):
            if "AliasTarget" in record:
                alias_to = absolute(record["AliasTarget"]["DNSName"])
                records.append(
                    FailoverRecord(record["SetIdentifier"], record["Failover"], "", None, record["Name"], alias_to)
                )
            else:
                target = record["ResourceRecords"][0]["Value"]
                records.append(
                    FailoverRecord(
                        record["SetIdentifier"], record["Failover"], target, region.writer_alarm, record["Name"]
                    )
                )
    return EmulatedRoute53(records, health_lag_s=HEALTH_LAG_S, ttl_s=10.0)


HEALTHY_SETS = [set(c) for n in range(4) for c in itertools.combinations("ABC", n)]


@pytest.mark.parametrize("healthy", HEALTHY_SETS, ids=str)
def test_three_regions_answer_the_first_healthy_writer_in_a_b_c_order_and_a_when_none(healthy: set[str]) -> None:
    regions = _regions(THREE_REGIONS)
    for label, region in regions.items():
        assert region.writer_alarm is not None
        _set(region.writer_alarm, "OK" if label in healthy else "ALARM", 0.0)
    route53 = _route53(regions)
    expected = next((label for label in "ABC" if label in healthy), "A")
    answer = route53.answer(HEALTH_LAG_S)
    assert answer.target == regions[expected].endpoint_name
    assert answer.alias_to is None


def test_the_nested_answer_is_described_by_its_path() -> None:
    regions = _regions(THREE_REGIONS)
    for label, state in (("A", "ALARM"), ("B", "ALARM"), ("C", "OK")):
        alarm = regions[label].writer_alarm
        assert alarm is not None
        _set(alarm, state, 0.0)
    route53 = _route53(regions)
    path = route53.answer_path(HEALTH_LAG_S)
    assert [(r.name, r.role, r.alias_to) for r in path] == [
        ("redis.internal.", "SECONDARY", "secondaries.redis.internal."),
        ("secondaries.redis.internal.", "SECONDARY", None),
    ]
    assert route53.describe(HEALTH_LAG_S) == f"SECONDARY > SECONDARY {regions['C'].endpoint_name}"


@pytest.mark.parametrize("healthy", [set(), {"A"}, {"B"}, {"A", "B"}], ids=str)
def test_two_regions_answer_as_before(healthy: set[str]) -> None:
    regions = _regions(TWO_REGIONS)
    for label, region in regions.items():
        assert region.writer_alarm is not None
        _set(region.writer_alarm, "OK" if label in healthy else "ALARM", 0.0)
    route53 = _route53(regions)
    assert [(r.name, r.role, r.alias_to) for r in route53.records if not is_witness(r)] == [
        ("redis.internal.", "PRIMARY", None),
        ("redis.internal.", "SECONDARY", None),
    ]
    expected = "B" if healthy == {"B"} else "A"
    assert route53.answer(HEALTH_LAG_S).target == regions[expected].endpoint_name
    assert route53.describe(HEALTH_LAG_S) == f"{route53.answer(HEALTH_LAG_S).role} {regions[expected].endpoint_name}"


def test_the_answer_follows_the_health_checks_lag_and_a_lost_region() -> None:
    regions = _regions(THREE_REGIONS)
    alarms = {label: region.writer_alarm for label, region in regions.items()}
    assert all(alarms.values())
    _set(cast(EmulatedAlarm, alarms["A"]), "OK", 0.0)
    _set(cast(EmulatedAlarm, alarms["B"]), "ALARM", 0.0)
    _set(cast(EmulatedAlarm, alarms["C"]), "ALARM", 0.0)
    route53 = _route53(regions)
    # B becomes the healthy writer at 100 s; Route 53 sees it HEALTH_LAG_S later.
    _set(cast(EmulatedAlarm, alarms["B"]), "OK", 100.0)
    route53.region_lost_at[regions["A"].name] = 90.0
    assert route53.answer(100.0 + HEALTH_LAG_S - 1).target == regions["A"].endpoint_name  # none healthy: A
    assert route53.answer(100.0 + HEALTH_LAG_S).target == regions["B"].endpoint_name
    # A's alarm says OK but its region is gone: unhealthy from the loss on (as Route 53 sees it)
    assert not route53.healthy(route53.records[0], 90.0 + HEALTH_LAG_S)
    assert route53.healthy(route53.records[0], 90.0 + HEALTH_LAG_S - 1)


def test_an_alias_is_healthy_when_any_record_of_its_target_is() -> None:
    regions = _regions(THREE_REGIONS)
    route53 = _route53(regions)
    alias = next(r for r in route53.records if r.alias_to is not None)
    pool_states: list[set[str]] = [set(), {"B"}, {"C"}, {"B", "C"}]
    for healthy in pool_states:
        for label in "BC":
            _set(cast(EmulatedAlarm, regions[label].writer_alarm), "OK" if label in healthy else "ALARM", 0.0)
        assert route53.healthy(alias, HEALTH_LAG_S) == bool(healthy)


# --- the Global Datastore with three members, on real redis-servers --------------------------------------


@pytest.fixture
def three_servers(redis_factory: Callable[..., RedisServer]) -> tuple[RedisServer, RedisServer, RedisServer]:
    a, b, c = (redis_factory(name, tls=False) for name in ("gds-a", "gds-b", "gds-c"))
    for replica in (b, c):
        replica.replicate_from(a)
        replica.wait_in_sync()
    return a, b, c


def _datastore(servers: tuple[RedisServer, RedisServer, RedisServer]) -> tuple[Simulation, GlobalDatastoreEmulator]:
    simulation = Simulation()
    a, b, c = servers
    members = [
        Member("rg-a", "us-east-1", "PRIMARY", a),
        Member("rg-b", "us-west-2", "SECONDARY", b),
        Member("rg-c", "eu-west-1", "SECONDARY", c),
    ]
    return simulation, GlobalDatastoreEmulator(simulation, "gds", members, on_event=lambda kind, text: None)


def _master_port(server: RedisServer) -> int | None:
    with server.client() as client:
        info = client.info("replication")
    return int(info["master_port"]) if info.get("role") == "slave" else None


@pytest.mark.redis
def test_promoting_b_makes_c_and_a_replicate_from_b(three_servers: tuple[RedisServer, ...]) -> None:
    a, b, c = three_servers
    simulation, datastore = _datastore((a, b, c))
    with a.client() as client:
        client.set("before", "1")
        client.execute_command("WAIT", "2", "1000")
    datastore.view("us-west-2").failover("gds", "us-west-2", "rg-b")
    assert datastore.status == "modifying"
    simulation.run_until(datastore.promotion_delay_s + 1)
    assert datastore.status == "available"
    assert datastore.primary.replication_group_id == "rg-b"
    assert _master_port(b) is None
    assert _master_port(a) == b.port
    assert _master_port(c) == b.port
    with c.client() as client:
        assert client.get("before") == "1"


@pytest.mark.redis
def test_a_stopped_other_secondary_and_an_unreachable_old_primary_are_left_alone(
    three_servers: tuple[RedisServer, ...],
) -> None:
    a, b, c = three_servers
    simulation, datastore = _datastore((a, b, c))
    b.kill()
    datastore.unreachable_regions.add("us-east-1")
    datastore.view("eu-west-1").failover("gds", "eu-west-1", "rg-c")
    simulation.run_until(datastore.promotion_delay_s + 1)
    assert datastore.primary.replication_group_id == "rg-c"
    assert _master_port(c) is None
    assert _master_port(a) is None  # unreachable: not re-pointed (it is still the writer it was)


def test_two_concurrent_failover_calls_are_serialized_one_is_rejected() -> None:
    """B's and C's promoters call in the same instant from two threads: one call wins, the other gets
    InvalidGlobalReplicationGroupState (the datastore is modifying), as ElastiCache answers."""
    fake = SimpleNamespace(running=False, paused=False)
    simulation = Simulation()
    members = [
        Member("rg-a", "us-east-1", "PRIMARY", cast(RedisServer, fake)),
        Member("rg-b", "us-west-2", "SECONDARY", cast(RedisServer, fake)),
        Member("rg-c", "eu-west-1", "SECONDARY", cast(RedisServer, fake)),
    ]
    datastore = GlobalDatastoreEmulator(simulation, "gds", members, on_event=lambda kind, text: None)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def call(region: str, group: str) -> None:
        start.wait()
        try:
            datastore.view(region).failover("gds", region, group)
            outcomes.append("accepted")
        except AwsCallError as error:
            outcomes.append(f"{error.kind.value} {error.code}")

    threads = [threading.Thread(target=call, args=args) for args in (("us-west-2", "rg-b"), ("eu-west-1", "rg-c"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted", f"{ErrorKind.INVALID_STATE.value} InvalidGlobalReplicationGroupState"]
    assert len(datastore.failover_calls) == 1


# --- per-region decision matching (tools.drill.run) ------------------------------------------------------


def test_per_region_expectations_are_patterns_matched_both_ways() -> None:
    expected = ("B:promote", "C:refuse:yield-* or C:noop:writer-recovered")
    assert matches(expected, ("B:promote:promote", "C:refuse:yield-rival-latched"), per_region=True)
    assert matches(expected, ("B:promote:promote", "C:noop:writer-recovered"), per_region=True)
    assert not matches(expected, ("B:promote:promote",), per_region=True)  # C's expectation unmatched
    assert not matches(expected, ("B:promote:promote", "C:promote:promote"), per_region=True)  # C unexpected
    assert not matches(expected, ("B:promote:promote", "C:refuse:yield-x", "B:refuse:writer-alive"), per_region=True)
    # two regions keep the ordered semantics
    assert matches(("promote", "refuse:cooldown"), ("promote:promote", "refuse:cooldown"))
    assert not matches(("promote", "refuse:cooldown"), ("refuse:cooldown", "promote:promote"))
