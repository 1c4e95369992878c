"""The scenario catalogue: what breaks, when, and what the promoter is expected to decide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tools.drill.world import World

#: Fault injection time: long enough for every alarm and the DNS answer to settle from INSUFFICIENT_DATA.
FAULT_AT_S = 150.0

Check = Callable[[World], tuple[str, bool]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    expected: tuple[str, ...]  # promoter decisions that matter, "outcome" or "outcome:code"; () = none
    inject: Callable[[World], None]
    run_for_s: float = 480.0  # emulated seconds after the fault
    overrides: dict[str, str] = field(default_factory=dict)
    expect_recovery: bool = True  # client writes succeed again by the end
    checks: tuple[Check, ...] = ()
    duplicate_deliveries: bool = False


def at(world: World, seconds_after_fault: float, action: Callable[[], None]) -> None:
    world.simulation.at(FAULT_AT_S + seconds_after_fault, action)


# --- faults ------------------------------------------------------------------------------------------
def kill_primary_redis(world: World) -> None:
    def fault() -> None:
        world.inject("region A's redis-server killed (the writer is gone; region A's AWS services work)")
        world.regions["A"].server.kill()

    at(world, 0, fault)


def lose_primary_region(world: World) -> None:
    def fault() -> None:
        world.inject(
            "region A lost: redis-server killed, its probe, metrics, alarms, SNS and ElastiCache API gone"
        )
        world.lose_region("A")

    at(world, 0, fault)


# --- checks ------------------------------------------------------------------------------------------
def dns_ends_on(label: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        assert world.route53 is not None
        answer = world.route53.answer(world.simulation.now)
        target = world.regions[label].endpoint_name
        return f"redis.internal ends on region {label}", answer.target == target

    return check


def failovers(count: int) -> Check:
    def check(world: World) -> tuple[str, bool]:
        assert world.datastore is not None
        return f"FailoverGlobalReplicationGroup called {count}x", len(world.datastore.failover_calls) == count

    return check


PRIMARY_REGION_OUTAGE = Scenario(
    name="primary-region-outage",
    summary="Region A disappears: its Redis, probe, metrics, alarms and control plane",
    expected=("promote",),
    inject=lose_primary_region,
    run_for_s=540.0,
    checks=(dns_ends_on("B"), failovers(1)),
)

PRIMARY_REDIS_DIES = Scenario(
    name="primary-redis-dies",
    summary="Region A's redis-server dies; region A's AWS services keep working",
    expected=("promote",),
    inject=kill_primary_redis,
    checks=(dns_ends_on("B"), failovers(1)),
)

CATALOGUE: dict[str, Scenario] = {s.name: s for s in (PRIMARY_REGION_OUTAGE, PRIMARY_REDIS_DIES)}
DEFAULT = PRIMARY_REGION_OUTAGE.name
