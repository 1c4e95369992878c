"""The sharded scenarios (cluster mode enabled, three shards per region; tools/drill/sharded.py builds it).

Registered in the catalogue by tools/drill/scenarios.py; run by run.py in a ShardedWorld.
"""

from __future__ import annotations

import dataclasses

from tools.drill.scenarios import (
    BREAK_BEFORE_LOSS_S,
    Scenario,
    at,
    dns_ends_on,
    failovers,
    lose_primary_region,
    no_lost_writes,
)
from tools.drill.sharded import IN_REGION_FAILOVER_S, SHARDS, ShardedWorld, shards_written_after
from tools.drill.world import World

STUCK_SHARD = 2


def _sharded(world: World) -> ShardedWorld:
    assert isinstance(world, ShardedWorld)
    return world


def shard_primary_fails(world: World) -> None:
    """Region A's shard-2 primary is killed; IN_REGION_FAILOVER_S later its in-region replica takes over."""

    def fault() -> None:
        world.inject(f"region A's shard-{STUCK_SHARD} primary (node 000{STUCK_SHARD}-001) killed")
        _sharded(world).nodes["A"][STUCK_SHARD - 1].server.kill()

    def takeover() -> None:
        replica = next(
            n for n in _sharded(world).nodes["A"] if n.hostname.split(".")[0].endswith(f"-000{STUCK_SHARD}-002")
        )
        with replica.client() as client:
            client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        world.event(
            "fault",
            "drill",
            f"in-region failover: {replica.hostname.split('.')[0]} took over shard {STUCK_SHARD} "
            "(CLUSTER FAILOVER TAKEOVER)",
        )

    at(world, 0, fault)
    at(world, IN_REGION_FAILOVER_S, takeover)


def stick_replication(world: World) -> None:
    """B's replica of shard 2 loses its link for good (its re-AUTH to the primary fails): it stays a stale
    read-only copy, as a stuck cross-region replication of one shard."""
    node = _sharded(world).nodes["B"][STUCK_SHARD - 1]
    with node.client() as client:
        client.config_set("masterauth", "drill-wrong-token")
        client.execute_command("CLIENT", "KILL", "TYPE", "master")
    world.event(
        "fault", "drill", f"shard {STUCK_SHARD}'s cross-region replication stuck ({node.hostname.split('.')[0]})"
    )


def one_shard_replication_stuck(world: World) -> None:
    def fault() -> None:
        world.inject(f"shard {STUCK_SHARD}'s cross-region replication stops; region A is healthy")
        stick_replication(world)

    at(world, 0, fault)


def lag_on_one_shard(world: World) -> None:
    def fault() -> None:
        world.inject(f"shard {STUCK_SHARD}'s cross-region replication stops (the other shards replicate)")
        stick_replication(world)

    def die() -> None:
        # As lag-above-gate: the writer's Redis dies, its region's AWS services work (its writer alarm tells
        # the promoter when the writer died, so the minutes of shard 2's missing writes count as lag).
        world.event("fault", "drill", "4 minutes later: every node of region A's Redis killed (A's AWS services work)")
        for node in _sharded(world).nodes["A"]:
            node.server.kill()

    at(world, 0, fault)
    at(world, BREAK_BEFORE_LOSS_S, die)


# --- checks ---------------------------------------------------------------------------------------------
def every_shard_writable_in(label: str) -> tuple[str, object]:
    def check(world: World) -> tuple[str, bool]:
        primaries = _sharded(world).primary_hostnames(label)
        group = world.regions[label].replication_group_id
        expected = [f"{group}-000{n}-001" for n in range(1, SHARDS + 1)]
        return f"every shard's primary is in region {label}", primaries == expected

    return f"every shard writable in {label}", check


def _every_shard_writable_in_b(world: World) -> tuple[str, bool]:
    return every_shard_writable_in("B")[1](world)  # type: ignore[operator,no-any-return]


def client_wrote_every_shard_after_promotion(world: World) -> tuple[str, bool]:
    done = [e.at for e in world.timeline if e.kind == "gds" and "promotion complete" in e.text]
    shards = shards_written_after(world, done[0]) if done else set()
    return f"the client wrote keys in all {SHARDS} shards after the promotion", shards == set(range(1, SHARDS + 1))


def probe_names_the_stuck_shard(world: World) -> tuple[str, bool]:
    """B's last probe: HeartbeatAge is the stuck shard's (the oldest), and its detail names that shard."""
    name = f"{world.regions['B'].replication_group_id}-000{STUCK_SHARD}-001"
    last = _sharded(world).last_probe.get("B", {})
    shards = {s["node"]: s.get("heartbeat_age_s") for s in last.get("shards", [])}
    oldest = max(shards, key=lambda node: shards[node] or 0.0) if shards else None
    named = name in str(last.get("detail", "")) and oldest == name and last.get("heartbeat_age_s") == shards[name]
    return f"region B's probe names the stuck shard ({name}) and reports its age as HeartbeatAge", named


SHARDED_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="sharded-primary-region-outage",
        summary="Cluster mode, 3 shards: region A disappears; one promotion, every shard writable in B",
        expected=("promote",),
        inject=lose_primary_region,
        run_for_s=540.0,
        checks=(
            dns_ends_on("B"),
            failovers(1),
            _every_shard_writable_in_b,
            client_wrote_every_shard_after_promotion,
            no_lost_writes,
        ),
        sharded=True,
    ),
    Scenario(
        name="sharded-shard-primary-fails",
        summary=f"Cluster mode: shard {STUCK_SHARD}'s primary dies in A, its in-region replica takes over",
        expected=(),
        inject=shard_primary_fails,
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0), no_lost_writes),
        sharded=True,
    ),
    Scenario(
        name="sharded-one-shard-replication-stuck",
        summary=f"Cluster mode: shard {STUCK_SHARD}'s cross-region replication stops; A is healthy",
        expected=("refuse:writer-alive",),
        inject=one_shard_replication_stuck,
        run_for_s=300.0,
        checks=(dns_ends_on("A"), failovers(0), probe_names_the_stuck_shard),
        sharded=True,
    ),
    Scenario(
        name="sharded-lag-on-one-shard",
        summary=f"Cluster mode: shard {STUCK_SHARD}'s replication stuck 4 minutes, then region A's Redis dies",
        # (a wake-up's replayed result repeats a decision already counted: not listed)
        expected=("refuse:writer-alive", "refuse:lag-above-gate"),
        inject=lag_on_one_shard,
        run_for_s=540.0,
        expect_recovery=False,
        checks=(failovers(0),),
        sharded=True,
    ),
)

__all__ = ["SHARDED_SCENARIOS", "dataclasses"]
