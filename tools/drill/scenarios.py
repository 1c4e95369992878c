"""The scenario catalogue: what breaks, when, and what the promoter is expected to decide."""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field

from gdfailover.switchover import SwitchoverOutcome, SwitchoverRequest, run_switchover
from tools import rto
from tools.drill.network import REPL_TIMEOUT_S
from tools.drill.world import GLOBAL_ID, DrillWriterHealth, World
from tools.localredis import free_port

#: Fault injection time: long enough for every alarm and the DNS answer to settle from INSUFFICIENT_DATA,
#: and at the timing model's typical phase (30 s cadence): region A probes at seconds 3 and 33 of each
#: minute and region B at 11 and 41, so A's last heartbeat is 13 s old when the fault lands and B's next
#: probe after it passes the 55 s threshold comes 15 s later (T+55, as `make rto`'s typical).
FAULT_AT_S = 136.0
#: us-east-1-partition-then-outage: the writer region is lost this long into a partition
PARTITION_BEFORE_LOSS_S = 300.0
#: lag-above-gate, three-preferred-over-lag-gate, sharded-lag-on-one-shard: the replication break lasts
#: this long (4 minutes) before the writer's Redis or region dies
BREAK_BEFORE_LOSS_S = 240
#: three-preferred-replica-down: the preferred secondary's Redis dies this long before region A is lost
PREFERRED_DOWN_BEFORE_LOSS_S = 30
#: How long the writer's redis-server is stopped (SIGSTOP): blip-20s and three-blip, writer-stall-45s/-90s
BLIP_S = 20.0
WRITER_STALL_SHORT_S = 45.0
WRITER_STALL_LONG_S = 90.0
#: How long the writer is gone in an emulated Multi-AZ failover: multi-az-failover (and -test-failover),
#: multi-az-failover-90s and multi-az-events-late
MULTI_AZ_FAILOVER_S = 60.0
MULTI_AZ_FAILOVER_LONG_S = 90.0
#: multi-az-events-late: the failover's events become visible in DescribeEvents this late
EVENTS_LATE_S = 120.0
#: emf-delayed-in-primary: region A's probe metrics reach CloudWatch this late
EMF_DELAY_IN_PRIMARY_S = 65.0
#: primary-region-outage-late-metrics: region B's own probe metrics reach CloudWatch this late
EMF_DELAY_IN_SURVIVOR_S = 60.0

Check = Callable[[World], tuple[str, bool]]
SWITCHOVER_RESULT = "switchover result: "


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    #: Promoter decisions that matter, "outcome" or "outcome:code"; () = none. Two regions: in order.
    #: Three regions: per region, "<label>:outcome[:code]" (a code may end in *), as a set (see run.matches).
    expected: tuple[str, ...]
    inject: Callable[[World], None]
    run_for_s: float = 480.0  # emulated seconds after the fault
    overrides: dict[str, str] = field(default_factory=dict)
    expect_recovery: bool = True  # client writes succeed again by the end
    checks: tuple[Check, ...] = ()
    duplicate_deliveries: bool = False
    regions: int = 2  # 3: the three-region deployment of docs/three-regions.md (names start with three-)
    #: The writer (region A) in us-east-1, the region that also serves the Route 53 API (else us-east-2)
    writer_in_us_east_1: bool = False
    #: Cluster mode enabled, three shards per region (tools/drill/sharded.py; names start with sharded-)
    sharded: bool = False


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
            "region A lost: its Redis stops answering (blackhole), its probe, metrics, alarms, SNS and APIs are gone"
        )
        world.lose_region("A")

    at(world, 0, fault)


def restart_old_primary_as_replica(world: World) -> None:
    """Region A comes back; the Global Datastore makes its group a secondary of the current primary."""
    assert world.datastore is not None
    old = world.regions["A"]
    primary = world.datastore.primary
    writer = next(r.label for r in world.regions.values() if r.replication_group_id == primary.replication_group_id)
    port = world.replication_port("A", writer)
    old.server.extra_args = [*old.server.extra_args, "--replicaof", "127.0.0.1", str(port)]
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
            writer_health=DrillWriterHealth(world, region),
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

    at(world, BREAK_BEFORE_LOSS_S, primary_down)


#: A published TestFailover (design.md, "In-region failover"): "Failover to replica node ... completed" 63 s
#: after "Test Failover API called", "Recovering cache nodes" 83 s after that, "Finished recovery" 618 s later.
RECOVERING_AFTER_COMPLETION_S = 83.0
FINISHED_AFTER_RECOVERING_S = 618.0


def multi_az_failover(
    unavailable_s: float, *, test_failover: bool = False, events_visible_after_s: float = 0.0
) -> Callable[[World], None]:
    """An in-region (Multi-AZ) failover in region A, as the ElastiCache docs describe it: the writer is
    unavailable for ``unavailable_s``, the replication group's status stays ``available`` ("During the
    failover process, the console continues to show the node's status as available"), and the events come
    in the documented order and wording: "Test Failover API called for node group <id>" (TestFailover only,
    at the start), "Failover from primary node <id> to replica node <id> completed" when it is over (a node
    failure shows nothing before that), then "Recovering cache nodes" and "Finished recovery for cache
    nodes". How soon an event is visible in DescribeEvents has no published figure: ASSUMPTION
    ``events_visible_after_s`` (0 by default; a later event only delays an extension of the hold, which
    never counts on one). The emulated failover keeps the same server (SIGSTOP, then SIGCONT), so no
    acknowledged write is lost, as in a failover to an in-sync replica; region B's link follows the
    emulated repl-timeout like that of any silent writer."""

    def inject(world: World) -> None:
        assert world.datastore is not None
        datastore = world.datastore
        group = world.regions["A"].replication_group_id
        server = world.regions["A"].server

        def event(message: str) -> None:
            datastore.add_event(group, message, visible_after_s=events_visible_after_s)

        def start() -> None:
            kind = "TestFailover on node group 0001" if test_failover else "its primary node fails"
            world.inject(f"region A: {kind}; ElastiCache fails over inside region A ({unavailable_s:.0f}s)")
            server.pause()
            if test_failover:
                event("Test Failover API called for node group 0001")

        def done() -> None:
            server.resume()
            event(f"Failover from primary node {group}-001 to replica node {group}-002 completed")
            world.event("fault", "drill", "region A's writer is back (the promoted in-region replica)")

        at(world, 0, start)
        at(world, unavailable_s, done)
        at(world, unavailable_s + RECOVERING_AFTER_COMPLETION_S, lambda: event("Recovering cache nodes 0001"))
        at(
            world,
            unavailable_s + RECOVERING_AFTER_COMPLETION_S + FINISHED_AFTER_RECOVERING_S,
            lambda: event("Finished recovery for cache nodes 0001"),
        )

    return inject


def hang_primary(world: World) -> None:
    """A plain pause, for good: region B's link drops when the emulated repl-timeout says so."""

    def fault() -> None:
        world.inject("region A's redis-server hangs (SIGSTOP, never resumes); region A's AWS services work")
        world.regions["A"].server.pause()

    at(world, 0, fault)


def partition_from_primary(label: str = "B") -> Callable[[World], None]:
    """The network between region A and region ``label`` fails: replication from A stops (blackholed) and
    neither region's APIs answer callers in the other. A's writer keeps serving its clients, and Route 53's
    checkers (outside every region) keep seeing it healthy; with three regions, the third keeps replicating."""

    def inject(world: World) -> None:
        def fault() -> None:
            world.inject(
                f"network between region A and region {label} fails: replication A->{label} blackholed, "
                "each region's APIs unreachable from the other; A's writer and its clients are fine"
            )
            world.partition("A", label)

        at(world, 0, fault)

    return inject


def late_metrics_in_survivor(delay_s: float) -> Callable[[World], None]:
    def inject(world: World) -> None:
        world.regions["B"].metric_delay_s = delay_s

        def fault() -> None:
            world.inject(f"region A lost while region B's probe metrics reach CloudWatch {delay_s:.0f}s late (EMF)")
            world.lose_region("A")

        at(world, 0, fault)

    return inject


def emf_delayed_in_primary(world: World) -> None:
    def fault() -> None:
        world.inject("region A's probe metrics reach CloudWatch 65 s late (EMF extraction delay); all else fine")
        world.regions["A"].metric_delay_s = EMF_DELAY_IN_PRIMARY_S

    at(world, 0, fault)


def link_dropped_after_repl_timeout(world: World) -> tuple[str, bool]:
    """Region B's link dropped by the emulated repl-timeout, REPL_TIMEOUT_S after the writer went silent."""
    drops = [e.at for e in world.timeline if e.kind == "fault" and "replication link drops" in e.text]
    fault = world.fault_at or 0.0
    ok = bool(drops) and abs(drops[0] - fault - REPL_TIMEOUT_S) <= 1.5
    return f"region B's link dropped {REPL_TIMEOUT_S:.0f}s (emulated) after the writer went silent", ok


def lose_primary_region_slow_promotion(world: World) -> None:
    assert world.datastore is not None
    world.datastore.promotion_delay_s = rto.PROMOTION_WORST_S
    lose_primary_region(world)


def lose_primary_region_route53_late(world: World) -> None:
    """Route 53's checkers notice the lost region as late as the timing model's worst case."""
    assert world.route53 is not None
    world.route53.health_lag_s = rto.ROUTE53_LOST_REGION_WORST_S
    lose_primary_region(world)


def lose_primary_region_route53_keeps_last_known(world: World) -> None:
    """The other reading of an undocumented behaviour: Route 53 keeps a lost region's last known status."""
    assert world.route53 is not None
    world.route53.lost_region_status = "last_known"
    lose_primary_region(world)


def partition_then_primary_region_lost(seconds: float) -> Callable[[World], None]:
    """A partition between A and B, then region A lost ``seconds`` later: A's writer took writes that B
    never received all that time, so promoting B loses them."""

    def inject(world: World) -> None:
        partition_from_primary("B")(world)

        def lost() -> None:
            world.event("fault", "drill", f"region A lost, {seconds:.0f}s into the partition")
            world.lose_region("A")

        at(world, seconds, lost)

    return inject


def refused_on_witness_bounded_lag(world: World) -> tuple[str, bool]:
    """The promoter refused on the lag gate with an estimate the witness history bounded."""
    seconds = float({**world.defaults, **world.overrides}["MaxLagSeconds"])
    refused = [
        run
        for run in world.promoter_runs
        if run.result.get("code") == "lag-above-gate"
        and "witness" in str((run.record or {}).get("evidence", {}).get("lag_basis"))
        and float((run.record or {}).get("rpo_estimate_seconds") or 0) > seconds
    ]
    return f"refused on a witness-bounded data-loss estimate above MaxLagSeconds {seconds:g}", bool(refused)


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


def held_for(code: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        held = any(
            code in (run.record or {}).get("hold_history", []) or run.result.get("code") == code
            for run in world.promoter_runs
        )
        return f"the promoter held ({code}) before deciding", held

    return check


def old_primary_is_replica(world: World) -> tuple[str, bool]:
    return "region A's probe sees a replica after it returns", world.regions["A"].last_probe_status == "read_only"


CATALOGUE_LIST: tuple[Scenario, ...] = (
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
        inject=blip(BLIP_S),
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

CATALOGUE_LIST += (
    Scenario(
        name="multi-az-failover",
        summary="Region A's primary node fails; Multi-AZ failover 60 s, group available, event at completion",
        expected=(),
        inject=multi_az_failover(MULTI_AZ_FAILOVER_S),
        run_for_s=360.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="multi-az-failover-90s",
        summary="Multi-AZ node failure of 90 s: group available, no event until it completes",
        expected=(),
        inject=multi_az_failover(MULTI_AZ_FAILOVER_LONG_S),
        run_for_s=420.0,
        checks=(dns_ends_on("A"), failovers(0), held_for("in-region-ceiling"), no_lost_writes),
    ),
    Scenario(
        name="multi-az-test-failover",
        summary="TestFailover in region A (60 s): 'Test Failover API called' first, then the documented events",
        expected=(),
        inject=multi_az_failover(MULTI_AZ_FAILOVER_S, test_failover=True),
        run_for_s=360.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="multi-az-events-late",
        summary="TestFailover of 90 s whose events become visible in DescribeEvents 120 s late",
        expected=(),
        inject=multi_az_failover(MULTI_AZ_FAILOVER_LONG_S, test_failover=True, events_visible_after_s=EVENTS_LATE_S),
        run_for_s=420.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="partition",
        summary="Network between A and B fails (replication and APIs); A's writer is fine, Route 53 sees it",
        expected=("refuse:writer-alive",),
        inject=partition_from_primary("B"),
        run_for_s=420.0,
        checks=(dns_ends_on("A"), failovers(0), held_for("outside-says-alive"), no_lost_writes),
    ),
    Scenario(
        name="writer-stall-90s",
        summary="Region A's redis-server stalls 90 s (SIGSTOP); its APIs answer; B's link drops at repl-timeout",
        expected=(),
        inject=blip(WRITER_STALL_LONG_S),
        run_for_s=360.0,
        checks=(dns_ends_on("A"), failovers(0), link_dropped_after_repl_timeout, no_lost_writes),
    ),
    Scenario(
        name="primary-region-outage-late-metrics",
        summary="Region A disappears while region B's own metrics arrive 60 s late: B promotes, later",
        expected=("promote",),
        inject=late_metrics_in_survivor(EMF_DELAY_IN_SURVIVOR_S),
        run_for_s=600.0,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
    Scenario(
        name="us-east-1-outage-two-regions",
        summary="Two regions, writer in us-east-1: region A disappears with the Route 53 API; the witness decides",
        expected=("promote",),
        inject=lose_primary_region,
        run_for_s=420.0,
        writer_in_us_east_1=True,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
    Scenario(
        name="us-east-1-outage-route53-late",
        summary="As us-east-1-outage-two-regions, Route 53's checkers as late as the model's worst case",
        expected=("promote",),
        inject=lose_primary_region_route53_late,
        run_for_s=420.0,
        writer_in_us_east_1=True,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
    Scenario(
        name="us-east-1-outage-route53-keeps-last-known",
        summary="us-east-1 lost, and Route 53 keeps its last known status (healthy): the product holds and pages",
        expected=("refuse:writer-alive",),
        inject=lose_primary_region_route53_keeps_last_known,
        run_for_s=420.0,
        expect_recovery=False,
        writer_in_us_east_1=True,
        checks=(failovers(0), held_for("outside-says-alive")),
    ),
    Scenario(
        name="us-east-1-partition",
        summary="Writer in us-east-1, network between A and B fails: the witness still says A is healthy",
        expected=("refuse:writer-alive",),
        inject=partition_from_primary("B"),
        run_for_s=420.0,
        writer_in_us_east_1=True,
        checks=(dns_ends_on("A"), failovers(0), held_for("outside-says-alive"), no_lost_writes),
    ),
    Scenario(
        name="us-east-1-partition-then-outage",
        summary="Writer in us-east-1: A-B partition, then region A lost 300 s later: B is 300 s stale, refused",
        expected=("refuse:writer-alive", "refuse:lag-above-gate"),
        inject=partition_then_primary_region_lost(PARTITION_BEFORE_LOSS_S),
        run_for_s=720.0,
        expect_recovery=False,
        writer_in_us_east_1=True,
        checks=(failovers(0), refused_on_witness_bounded_lag),
    ),
    Scenario(
        name="writer-stall-45s",
        summary="Region A's redis-server stalls for 45 s (SIGSTOP), then resumes",
        expected=(),
        inject=blip(WRITER_STALL_SHORT_S),
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="emf-delayed-in-primary",
        summary="Region A's probe metrics arrive 65 s late (EMF); Redis and replication are fine",
        expected=(),
        inject=emf_delayed_in_primary,
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
    Scenario(
        name="primary-redis-hangs",
        summary="Region A's redis-server hangs for good (SIGSTOP); region A's AWS services keep working",
        expected=("promote",),
        inject=hang_primary,
        checks=(dns_ends_on("B"), failovers(1), link_dropped_after_repl_timeout, no_lost_writes),
    ),
    Scenario(
        name="primary-region-outage-slow-promotion",
        summary="Region A disappears and the promotion takes the worst-case assumption (180 s)",
        expected=("promote",),
        inject=lose_primary_region_slow_promotion,
        run_for_s=600.0,
        checks=(dns_ends_on("B"), failovers(1), no_lost_writes),
    ),
)


# --- three regions (docs/three-regions.md): A writes, B preferred secondary, C the other one -----------
def lose_primary_region_with_preferred_replica_down(world: World) -> None:
    def preferred_down() -> None:
        world.inject("region B's redis-server killed (the preferred secondary's replica is gone)")
        world.regions["B"].server.kill()

    def primary_lost() -> None:
        world.event("fault", "drill", "region A lost: redis-server, probe, metrics, alarms, SNS and ElastiCache API")
        world.lose_region("A")

    at(world, 0, preferred_down)
    at(world, PREFERRED_DOWN_BEFORE_LOSS_S, primary_lost)


def lose_primary_region_with_preferred_over_lag_gate(world: World) -> None:
    replication_broken(world)

    def primary_lost() -> None:
        world.event("fault", "drill", "region A lost, 4 minutes into region B's replication break")
        world.lose_region("A")

    at(world, BREAK_BEFORE_LOSS_S, primary_lost)


def kill_primary_redis_secondaries_in_step(world: World) -> None:
    """Regions B's and C's probes run at the same second of the minute, so both HeartbeatAge series climb
    together and both promotion triggers go to ALARM at the same evaluation."""
    world.schedule_offset_s["C"] = world.schedule_offset_s["B"]
    kill_primary_redis(world)


def one_lost_probe_then_blip(world: World) -> None:
    one_lost_probe(world)

    def stop() -> None:
        world.event("fault", "drill", "region A's redis-server stopped (SIGSTOP) for 20s")
        world.regions["A"].server.pause()

    def resume() -> None:
        world.regions["A"].server.resume()
        world.event("fault", "drill", "region A's redis-server resumed (SIGCONT)")

    at(world, 120, stop)
    at(world, 120 + BLIP_S, resume)


#: The lower-priority secondary standing down, whichever way the timing lets it see that: it yields to
#: the preferred one (succession), or by the time it looks again the new writer answers (its own
#: probe: writer-recovered; the new writer's probe as second vantage: writer-alive).
C_STANDS_DOWN = "C:refuse:yield-* or C:refuse:writer-alive or C:noop:writer-recovered"


def waited_for_preferred(label: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        waited = any(
            run.region == label and "succession-wait" in (run.record or {}).get("hold_history", [])
            for run in world.promoter_runs
        )
        return f"region {label}'s promoter held (succession-wait) for the preferred secondary", waited

    return check


def writer_is(label: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        assert world.datastore is not None
        primary = world.datastore.primary
        return f"region {label} is the Global Datastore's PRIMARY", (
            primary.replication_group_id == world.regions[label].replication_group_id
        )

    return check


def failover_calls_from(label: str, count: int) -> Check:
    def check(world: World) -> tuple[str, bool]:
        assert world.datastore is not None
        name = world.regions[label].name
        calls = [c for c in world.datastore.failover_calls if c[1] == name]
        return f"region {label} made {count} FailoverGlobalReplicationGroup call(s)", len(calls) == count

    return check


def never_promoted(label: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        decided = [run for run in world.promoter_runs if run.region == label]
        promoted = [run for run in decided if run.result.get("decision") == "promote"]
        return f"region {label}'s promoter never decided promote", not promoted

    return check


def decided(label: str, pattern: str) -> Check:
    """Region ``label``'s promoter returned ``decision:code`` matching ``pattern`` (fnmatch) at least once."""

    def check(world: World) -> tuple[str, bool]:
        seen = [
            f"{run.result.get('decision')}:{run.result.get('code')}"
            for run in world.promoter_runs
            if run.region == label
        ]
        return f"region {label}'s promoter decided {pattern}", any(fnmatch.fnmatchcase(d, pattern) for d in seen)

    return check


def replicate_from(labels: tuple[str, ...], writer_label: str) -> Check:
    """INFO replication on the real servers: each of ``labels`` is a replica of the writer, link up."""

    def check(world: World) -> tuple[str, bool]:
        ok = True
        for label in labels:
            path = world.paths.get((writer_label, label))
            port = path.port if path is not None else world.regions[writer_label].server.port
            server = world.regions[label].server
            if not server.running:
                ok = False
                continue
            with server.client(timeout=2.0) as client:
                info = client.info("replication")
            ok = ok and (
                info.get("role") == "slave"
                and int(info.get("master_port", 0)) == port
                and info.get("master_link_status") == "up"
            )
        return f"region(s) {', '.join(labels)} replicate from region {writer_label} (link up)", ok

    return check


def triggers_fired_together(first: str, second: str) -> Check:
    def check(world: World) -> tuple[str, bool]:
        fired = []
        for label in (first, second):
            alarm = world.regions[label].trigger_alarm
            assert alarm is not None
            fired.append(next((t.at for t in alarm.history if t.new == "ALARM"), None))
        together = None not in fired and abs((fired[0] or 0.0) - (fired[1] or 0.0)) < 1.0
        return f"regions {first}'s and {second}'s promotion triggers went to ALARM in the same second", together

    return check


CATALOGUE_LIST += (
    Scenario(
        name="three-primary-region-outage",
        summary="Three regions: region A disappears; B (preferred) promotes, C stands down",
        expected=("B:promote", C_STANDS_DOWN),
        inject=lose_primary_region,
        run_for_s=540.0,
        regions=3,
        checks=(
            dns_ends_on("B"),
            failovers(1),
            failover_calls_from("C", 0),
            never_promoted("C"),
            waited_for_preferred("C"),
            writer_is("B"),
            replicate_from(("C",), "B"),
            no_lost_writes,
        ),
    ),
    Scenario(
        name="three-preferred-replica-down",
        summary="Three regions: B's replica is down when region A disappears; C promotes",
        # B's promoter is never invoked: its probe fails (no HeartbeatAge, the trigger treats missing data
        # as not breaching) and region A's fast path died with A.
        expected=("C:promote",),
        inject=lose_primary_region_with_preferred_replica_down,
        run_for_s=540.0,
        regions=3,
        checks=(
            dns_ends_on("C"),
            failovers(1),
            failover_calls_from("B", 0),
            decided("C", "promote:promote"),
            writer_is("C"),
            no_lost_writes,
        ),
    ),
    Scenario(
        name="three-preferred-over-lag-gate",
        summary="Three regions: B's replication broken 4 min, then region A disappears; C (fresh) promotes",
        expected=("B:refuse:writer-alive", "C:promote"),
        inject=lose_primary_region_with_preferred_over_lag_gate,
        run_for_s=600.0,
        regions=3,
        checks=(
            dns_ends_on("C"),
            failovers(1),
            failover_calls_from("B", 0),
            never_promoted("B"),
            writer_is("C"),
            replicate_from(("B",), "C"),
            no_lost_writes,
        ),
    ),
    Scenario(
        name="three-both-alarms-same-second",
        summary="Three regions: A's Redis dies; B's and C's triggers fire in the same second; one failover",
        expected=("B:promote", C_STANDS_DOWN),
        inject=kill_primary_redis_secondaries_in_step,
        run_for_s=540.0,
        regions=3,
        checks=(
            triggers_fired_together("B", "C"),
            failovers(1),
            failover_calls_from("C", 0),
            never_promoted("C"),
            dns_ends_on("B"),
            replicate_from(("C",), "B"),
            no_lost_writes,
        ),
    ),
    Scenario(
        name="three-old-primary-returns",
        summary="Three regions: failover to B, then region A's Redis comes back as a replica",
        expected=("B:promote", C_STANDS_DOWN),
        inject=primary_dies_and_returns,
        run_for_s=540.0,
        regions=3,
        checks=(
            dns_ends_on("B"),
            failovers(1),
            failover_calls_from("C", 0),
            old_primary_is_replica,
            replicate_from(("A", "C"), "B"),
            no_lost_writes,
        ),
    ),
    Scenario(
        name="three-us-east-1-outage",
        summary="Three regions, writer in us-east-1: region A disappears with the Route 53 API; C breaks the tie",
        expected=("B:promote", C_STANDS_DOWN),
        inject=lose_primary_region,
        run_for_s=540.0,
        regions=3,
        writer_in_us_east_1=True,
        checks=(dns_ends_on("B"), failovers(1), failover_calls_from("C", 0), writer_is("B"), no_lost_writes),
    ),
    Scenario(
        name="three-partition",
        summary="Three regions: the network between A and B fails; C still replicates from a healthy A",
        expected=("B:refuse:writer-alive",),
        inject=partition_from_primary("B"),
        run_for_s=420.0,
        regions=3,
        checks=(dns_ends_on("A"), failovers(0), never_promoted("C"), no_lost_writes),
    ),
    Scenario(
        name="three-blip",
        summary="Three regions: one lost probe in A, then A's Redis stalls 20 s; nobody promotes",
        expected=(),
        inject=one_lost_probe_then_blip,
        run_for_s=360.0,
        regions=3,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
    ),
)

from tools.drill.sharded_scenarios import SHARDED_SCENARIOS  # noqa: E402 - it builds on this module

CATALOGUE_LIST = (*CATALOGUE_LIST, *SHARDED_SCENARIOS)
CATALOGUE: dict[str, Scenario] = {scenario.name: scenario for scenario in CATALOGUE_LIST}
DEFAULT = "primary-region-outage"
