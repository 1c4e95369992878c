"""The scenario catalogue: what breaks, when, and what the promoter is expected to decide."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from gdfailover.switchover import SwitchoverOutcome, SwitchoverRequest, run_switchover
from tools.drill.world import GLOBAL_ID, World
from tools.localredis import free_port

#: Fault injection time: long enough for every alarm and the DNS answer to settle from INSUFFICIENT_DATA.
FAULT_AT_S = 150.0

Check = Callable[[World], tuple[str, bool]]
SWITCHOVER_RESULT = "switchover result: "


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
        world.inject("region A lost: redis-server killed, its probe, metrics, alarms, SNS and ElastiCache API gone")
        world.lose_region("A")

    at(world, 0, fault)


def restart_old_primary_as_replica(world: World) -> None:
    """Region A comes back; the Global Datastore makes its group a secondary of the current primary."""
    assert world.datastore is not None
    old = world.regions["A"]
    primary = world.datastore.primary
    old.server.extra_args = [*old.server.extra_args, "--replicaof", "127.0.0.1", str(primary.server.port)]
    old.server.start()
    old.server.wait_in_sync()  # real-time resync; emulated time waits for it (see GlobalDatastore._complete_failover)
    world.event("fault", "drill", f"region A's redis-server is back, as a replica of {primary.replication_group_id}")


def operator_switchover(world: World, to_label: str) -> None:
    """The planned switchover command (gdfailover.switchover, as tools.switchover runs it) on the drill's
    adapters: the target region's probe metrics and ledger as its promoter reads them, virtual time."""
    region = world.regions[to_label]
    assert world.datastore is not None
    assert region.promote_module is not None
    promote = region.promote_module
    # The emulator tells the operator's calls from the promoters' by the caller name ("operator").
    datastores = world.datastore.view("operator")
    request = SwitchoverRequest(GLOBAL_ID, region.name, region.replication_group_id, operator="drill")
    world.event("fault", "operator", f"planned switchover to region {to_label}: python -m tools.switchover")

    def switch() -> None:
        result = run_switchover(
            request,
            datastores=datastores,
            probe_metrics=promote.service.sources.probe_metrics,
            ledger=promote.service.ledger,
            clock=world.simulation.clock,
        )
        lines = result.describe().splitlines()
        world.event("fault", "operator", f"{SWITCHOVER_RESULT}{result.outcome.value} (exit {result.exit_code})", lines)

    world.simulation.spawn("operator", switch)


def break_replication_to_secondary(world: World) -> None:
    """Region B's replica loses its link to the writer (it stays a read-only replica, going stale)."""
    with world.regions["B"].server.client() as client:
        client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # nothing listens there
    world.event("fault", "drill", "inter-region replication broken: region B's replica lost its link to A")


def one_lost_probe(world: World) -> None:
    def fault() -> None:
        world.inject("region A's next probe invocation is lost (no datapoint)")
        world.regions["A"].lose_next_probe = True

    at(world, 0, fault)


def blip(seconds: float) -> Callable[[World], None]:
    def inject(world: World) -> None:
        server = world.regions["A"].server

        def stop() -> None:
            world.inject(f"region A's redis-server stopped (SIGSTOP) for {seconds:.0f}s")
            server.pause()

        def resume() -> None:
            server.resume()
            world.event("fault", "drill", "region A's redis-server resumed (SIGCONT)")

        at(world, 0, stop)
        at(world, seconds, resume)

    return inject


def probe_broken_in_primary(world: World) -> None:
    def fault() -> None:
        world.inject("region A's probe cannot reach its Redis (e.g. a security-group change); Redis is fine")
        module = world.regions["A"].probe_module
        assert module is not None
        module.SETTINGS = dataclasses.replace(module.SETTINGS, port=free_port())  # type: ignore[attr-defined]

    at(world, 0, fault)


def replication_broken(world: World) -> None:
    def fault() -> None:
        world.inject("inter-region replication broken; the writer in region A is fine")
        break_replication_to_secondary(world)

    at(world, 0, fault)


def secondary_unhealthy_then_primary_dies(world: World) -> None:
    def secondary_down() -> None:
        world.inject("region B's redis-server killed (the replica is gone)")
        world.regions["B"].server.kill()

    def primary_down() -> None:
        world.event("fault", "drill", "region A's redis-server killed")
        world.regions["A"].server.kill()

    at(world, 0, secondary_down)
    at(world, 30, primary_down)


def primary_dies_returns_then_switchover(world: World) -> None:
    kill_primary_redis(world)
    at(world, 300, lambda: restart_old_primary_as_replica(world))
    at(world, 420, lambda: operator_switchover(world, "A"))


def flaps_inside_cooldown(world: World) -> None:
    primary_dies_returns_then_switchover(world)

    def again() -> None:
        world.event("fault", "drill", "region A's redis-server killed again (inside region B's cooldown)")
        world.regions["A"].server.kill()

    at(world, 600, again)


def primary_dies_and_returns(world: World) -> None:
    kill_primary_redis(world)
    at(world, 300, lambda: restart_old_primary_as_replica(world))


def lag_above_gate(world: World) -> None:
    replication_broken(world)

    def primary_down() -> None:
        world.event("fault", "drill", "region A's redis-server killed, 4 minutes into the replication break")
        world.regions["A"].server.kill()

    at(world, 240, primary_down)


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
        calls = [c for c in world.datastore.failover_calls if c[1] != "operator"]
        return f"automatic FailoverGlobalReplicationGroup called {count}x", len(calls) == count

    return check


def no_lost_writes(world: World) -> tuple[str, bool]:
    lost = world.lost_writes()
    return "no acknowledged write lost", lost == 0


def duplicate_was_absorbed(world: World) -> tuple[str, bool]:
    codes = [run.result.get("code") for run in world.promoter_runs]
    replayed = [run for run in world.promoter_runs if run.result.get("replayed")]
    seen = "duplicate-in-progress" in codes or bool(replayed)
    return "a duplicate delivery was recognised (in progress or replayed)", seen


def operator_switched(world: World) -> tuple[str, bool]:
    results = [e.text for e in world.timeline if e.where == "operator" and e.text.startswith(SWITCHOVER_RESULT)]
    switched = results == [f"{SWITCHOVER_RESULT}{SwitchoverOutcome.SWITCHED.value} (exit 0)"]
    return "the planned switchover passed its pre-checks and switched", switched


def old_primary_is_replica(world: World) -> tuple[str, bool]:
    return "region A's probe sees a replica after it returns", world.regions["A"].last_probe_status == "read_only"


CATALOGUE_LIST = (
    Scenario(
        name="primary-region-outage",
        summary="Region A disappears: Redis, probe, metrics, alarms, SNS and ElastiCache API",
        expected=("promote",),
        inject=lose_primary_region,
        run_for_s=540.0,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
    Scenario(
        name="primary-redis-dies",
        summary="Region A's redis-server dies; region A's AWS services keep working",
        expected=("promote",),
        inject=kill_primary_redis,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
    Scenario(
        name="one-lost-probe",
        summary="One probe invocation in region A is lost",
        expected=(),
        inject=one_lost_probe,
        run_for_s=240.0,
        checks=(dns_ends_on("A"), failovers(0)),
    ),
    Scenario(
        name="blip-20s",
        summary="Region A's redis-server stalls for 20 s (SIGSTOP), then resumes",
        expected=(),
        inject=blip(20.0),
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="probe-broken-in-primary",
        summary="Region A's probe cannot reach Redis; Redis and replication are fine",
        expected=("refuse:writer-alive",),
        inject=probe_broken_in_primary,
        run_for_s=360.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="replication-broken",
        summary="Inter-region replication breaks; the writer in region A is fine",
        expected=("refuse:writer-alive",),
        inject=replication_broken,
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0)),
    ),
    Scenario(
        name="secondary-unhealthy",
        summary="Region B's replica is down when region A's Redis dies",
        expected=("refuse:local-replica-down",),
        inject=secondary_unhealthy_then_primary_dies,
        run_for_s=360.0,
        expect_recovery=False,
        checks=(failovers(0), dns_ends_on("A")),
    ),
    Scenario(
        name="duplicate-alarm-delivery",
        summary="Region A's Redis dies and SNS delivers every ALARM notification twice",
        expected=("promote",),
        inject=kill_primary_redis,
        duplicate_deliveries=True,
        checks=(failovers(1), duplicate_was_absorbed, dns_ends_on("B")),
    ),
    Scenario(
        name="alarm-flaps-in-cooldown",
        summary="Failover, A returns, switchover back to A, then A dies again inside B's cooldown",
        expected=("promote", "refuse:cooldown"),
        inject=flaps_inside_cooldown,
        run_for_s=900.0,
        expect_recovery=False,
        checks=(failovers(1), operator_switched),
    ),
    Scenario(
        name="lag-above-gate",
        summary="Replication broken for 4 minutes, then region A's Redis dies",
        expected=("refuse:writer-alive", "refuse:lag-above-gate"),
        inject=lag_above_gate,
        run_for_s=540.0,
        expect_recovery=False,
        checks=(failovers(0),),
    ),
    Scenario(
        name="old-primary-returns",
        summary="Failover to B, then region A's Redis comes back as a replica",
        expected=("promote",),
        inject=primary_dies_and_returns,
        run_for_s=540.0,
        checks=(dns_ends_on("B"), failovers(1), old_primary_is_replica, no_lost_writes),
    ),
    Scenario(
        name="planned-switchover-back",
        summary="Failover to B, A returns as a replica, operator switches back to A",
        expected=("promote",),
        inject=primary_dies_returns_then_switchover,
        run_for_s=660.0,
        checks=(dns_ends_on("A"), failovers(1), operator_switched, no_lost_writes),
    ),
)

CATALOGUE: dict[str, Scenario] = {scenario.name: scenario for scenario in CATALOGUE_LIST}
DEFAULT = "primary-region-outage"
