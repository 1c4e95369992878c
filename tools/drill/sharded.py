"""The sharded drill: a cluster-mode-enabled Global Datastore of two regions, each with three shards.

Construction (stock redis-server refuses REPLICAOF in cluster mode): ONE real Redis Cluster (TLS + AUTH,
cluster bus over TLS; tools/localcluster.py) spans both regions. Region A's nodes are
``drill-use2-000S-001`` (each shard's primary) and ``drill-use2-000S-002`` (its in-region replica),
region B's ``drill-usw2-000S-001``, one replica of every A primary, so every shard replicates across
regions. What keeps them regions:

* the probe of each region connects to its own "configuration endpoint" (one of its nodes) and probes
  only the nodes named as its replication group's (gdfailover.cluster_probe: ``<group>-`` hostnames);
  a B shard answers a write with ``MOVED`` to an A node, which the probe reads as "this shard's writer
  lives elsewhere", where ElastiCache's secondary answers ``READONLY``;
* nothing fails over by itself: ``cluster-replica-no-failover yes`` and a cluster-node-timeout of an
  hour of wall time, so Redis Cluster's own failure detection (wall-clock) never acts inside a run;
  the drill decides, on emulated time, as ElastiCache's control plane does: the Global Datastore
  promotion is ``CLUSTER FAILOVER TAKEOVER`` on every B node (the whole group changes role together, as
  FailoverGlobalReplicationGroup does); an in-region (Multi-AZ) failover of one shard is ``CLUSTER
  FAILOVER TAKEOVER`` on that shard's A replica;
* a lost region's nodes are all stopped (SIGSTOP: a blackhole), and B's replicas drop their links
  ``REPL_TIMEOUT_S`` emulated seconds later (the world's repl-timeout, applied to every B node).

What this does not reproduce: in ElastiCache the regions are separate clusters, so B's nodes never
gossip with A's (here they do, harmlessly: no failure detection acts) and B's primaries answer
``READONLY`` rather than ``MOVED``; after a promotion the old region's nodes come back as replicas of
B's through gossip here (ElastiCache re-points them itself); inter-region partitions and hung writers
are not part of the sharded catalogue (the cluster bus is not routed through the drill's network
emulation). The promoter, alarms, Route 53, SNS and the client are the two-region drill's, unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import time
from collections.abc import Iterator
from typing import Any

import redis
from redis.crc import key_slot

from gdfailover.cluster_probe import run_cluster_probe
from gds_client import ClientSettings, Target, connect_cluster
from tools.drill.client import DRILL_SETTINGS, RECORD_NAME, DrillClient
from tools.drill.cloud import Member
from tools.drill.network import REPL_TIMEOUT_S, LinkWatch, ReplicationPath
from tools.drill.world import Region, World
from tools.localcluster import ClusterNodeProcess, LocalCluster, even_ranges
from tools.localredis import DEFAULT_PASSWORD

SHARDS = 3
#: Every sharded scenario's stacks: the template with ClusterMode=enabled (REDIS_CLUSTER_MODE=true).
SHARDED_OVERRIDES = {"ClusterMode": "enabled"}
#: In-region failover of one shard: its replica takes over this long after the primary died. "about 30
#: seconds" (AWS Database Blog, quoted in the design notes); ElastiCache docs say "typically just a few
#: seconds". ASSUMPTION: the blog's figure, the longer one, makes the cross-region signals last longer
#: (promotion more likely), the conservative side for a "no promotion" scenario.
IN_REGION_FAILOVER_S = 30.0


class ShardedDrillClient(DrillClient):
    """The drill's application with gds_client's cluster mode: ``redis.internal`` through the emulated
    Route 53 answer to the writer region's configuration endpoint; the nodes by their announced address."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings: ClientSettings = ClientSettings(
            **{
                **DRILL_SETTINGS.__dict__,
                "tls": kwargs.get("tls", True),
                "ca_file": kwargs["ca_file"] if kwargs.get("tls", True) else None,
                "password": kwargs["password"],
                "cluster": True,
            }
        )
        self.redis.close()
        self.redis = connect_cluster(settings, resolver=self._cluster_dns)  # type: ignore[assignment]

    def _cluster_dns(self, name: str) -> Target:
        if name == RECORD_NAME:
            return self._dns(name)
        return Target(name, name, None)  # a node's announced address (loopback; its certificate names it)


class ShardedWorld(World):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cluster: LocalCluster | None = None
        self.nodes: dict[str, list[ClusterNodeProcess]] = {}
        self.last_probe: dict[str, dict[str, Any]] = {}
        self._last_detail: dict[str, Any] = {}

    # --- construction -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[World]:
        from moto import mock_aws

        from tools.drill.lambdas import StepFunctionsOnVirtualTime

        a, b = self.layout
        suffix = {
            layout.label: f"{layout.replication_group_id}.drill.{layout.name}.cache.amazonaws.com"
            for layout in self.layout
        }
        with (
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}),
            StepFunctionsOnVirtualTime(self.simulation) as sfn,
        ):
            self._sfn = sfn
            self.dns.start()
            cluster = self.cluster = LocalCluster(
                a.replication_group_id,
                shards=SHARDS,
                replicas=1,
                tls=self.tls if self.tls_on else None,
                dns_suffix=suffix["A"],
                engine=self.engine,
            )
            try:
                cluster.start()
                cluster.add_region(b.replication_group_id, dns_suffix=suffix["B"])
                for layout in self.layout:
                    prefix = f"{layout.replication_group_id}-"
                    nodes = [n for n in cluster.nodes if n.hostname.startswith(prefix)]
                    self.nodes[layout.label] = nodes
                    entry = nodes[0]  # the region's "configuration endpoint": its first node
                    self.regions[layout.label] = Region(
                        layout.label,
                        layout.name,
                        layout.role,
                        layout.replication_group_id,
                        entry.server,
                        peer=layout.peer,
                    )
                for region in self.regions.values():
                    path = ReplicationPath(
                        f"client->{region.label}", fail_fast_when=functools.partial(self._silent_to_clients, region)
                    )
                    path.point_to(region.server.port)
                    self.client_paths[region.label] = path
                self.overrides = {**self.overrides, **SHARDED_OVERRIDES}
                self._build()
                assert self.datastore is not None
                self.datastore._complete_failover = self._complete_group_failover  # type: ignore[method-assign]
                yield self
            finally:
                for path in self.client_paths.values():
                    path.close()
                cluster.stop()
                self.dns.close()
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _build(self) -> None:
        import tools.drill.world as world_module

        original = getattr(world_module, "DrillClient")  # noqa: B009 - swapped for the build, restored after
        setattr(world_module, "DrillClient", ShardedDrillClient)  # noqa: B010
        try:
            super()._build()
        finally:
            setattr(world_module, "DrillClient", original)  # noqa: B010

    def _load_handlers(self, region: Region) -> None:
        super()._load_handlers(region)
        assert region.probe_module is not None
        region.probe_module.probe = functools.partial(run_cluster_probe, clock=self.simulation.clock.time)  # type: ignore[attr-defined]

    def _probe(self, region: Region, payload: dict[str, Any]) -> dict[str, Any]:
        """The two-region drill's probe; the per-shard outcome of a region's latest probe is kept, and the
        timeline names the shards whenever the probe is not a plain healthy writer."""
        result = super()._probe(region, payload)
        self.last_probe[region.label] = result
        shards = result.get("shards") or []
        previous = self._last_detail.get(region.label)
        if result.get("status") != "healthy" and result.get("detail") != previous:
            ages = ", ".join(
                f"{s['node']} {s['status']}" + (f" {s['heartbeat_age_s']:.0f}s" if s.get("heartbeat_age_s") else "")
                for s in shards
            )
            self.event("probe", region.label, f"shards: {ages}", [str(result.get("detail", ""))])
        self._last_detail[region.label] = result.get("detail")
        return result

    def replicate(self, replica_label: str, writer_label: str) -> None:
        """Cluster replicas follow their shard's primary by themselves (CLUSTER REPLICATE at build)."""

    # --- replication on emulated time -----------------------------------------------------------------
    def _replicas_in_reach(self, writer: Region) -> int:
        return 1

    def _let_replicas_catch_up(self, writer: Region, in_reach: int) -> None:  # type: ignore[override]
        """As the two-region drill, per shard: WAIT on every primary of the writer region."""
        for node in self.nodes[writer.label]:
            if not node.server.running or node.server.paused:
                continue
            with node.client(timeout=2.0) as client:
                info = client.info("replication")
                if info.get("role") == "master" and int(info.get("connected_slaves", 0)):
                    client.execute_command("WAIT", int(info["connected_slaves"]), 500)

    def _writer_silent_to(self, replica: Region) -> bool:
        assert self.datastore is not None
        primary = self.datastore.primary.replication_group_id
        writer = next(r for r in self.regions.values() if r.replication_group_id == primary)
        if writer is replica:
            return False
        return not writer.alive  # a lost (blackholed) writer region; killed nodes reset their links

    def _watch_replication(self) -> None:
        """repl-timeout on emulated time, for every node of a region whose writer region went silent."""
        now = self.simulation.now
        for region in self.regions.values():
            watch = self.link_watch.setdefault(region.label, LinkWatch())
            if not region.alive or not self._writer_silent_to(region):
                watch.silent_since, watch.dropped = None, False
                continue
            if watch.silent_since is None:
                watch.silent_since = now
            if not watch.dropped and now - watch.silent_since >= REPL_TIMEOUT_S:
                watch.dropped = True
                for node in self.nodes[region.label]:
                    if node.server.running and not node.server.paused:
                        with node.client(timeout=2.0) as client, contextlib.suppress(redis.ResponseError):
                            client.execute_command("CLIENT", "KILL", "TYPE", "master")
                self.event(
                    "fault",
                    "drill",
                    f"region {region.label}'s replication links drop on every shard: the writer region silent "
                    f"for {REPL_TIMEOUT_S:.0f}s (repl-timeout, emulated time)",
                )

    # --- the Global Datastore promotion ------------------------------------------------------------------
    def _complete_group_failover(self, old: Member, new: Member) -> None:
        """FailoverGlobalReplicationGroup on a cluster-mode datastore: every shard of the new primary's
        group takes over at once (CLUSTER FAILOVER TAKEOVER on each of its nodes)."""
        assert self.datastore is not None
        new_label, old_label = self._label_of(new.region), self._label_of(old.region)
        for node in self.nodes[new_label]:
            with node.client(timeout=2.0) as client:
                client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
        _wait_until_writers(self.nodes[new_label])  # real time; emulated time stands still meanwhile
        old_usable = self.datastore._usable(old)
        if old_usable:
            live = [n for n in self.nodes[old_label] if n.server.running and not n.server.paused]
            _wait_until_replicas(live)
        old.role, new.role = "SECONDARY", "PRIMARY"
        self.datastore.status = "available"
        self.event(
            "gds",
            "GDS",
            f"promotion complete: {new.replication_group_id} ({new.region}) is PRIMARY on all {SHARDS} shards "
            f"(CLUSTER FAILOVER TAKEOVER on each of its nodes)"
            + (f"; {old.replication_group_id}'s nodes now replicate it" if old_usable else "; old primary unreachable"),
        )

    # --- faults and results ---------------------------------------------------------------------------------
    def lose_region(self, label: str) -> None:
        super().lose_region(label)
        for node in self.nodes[label]:
            node.server.pause()

    def lost_writes(self) -> int | None:
        """Acknowledged writes the final writer region does not hold, read on its shard primaries."""
        assert self.client is not None
        assert self.datastore is not None
        primary = self.datastore.primary
        label = self._label_of(primary.region)
        present: set[str] = set()
        if not any(node.server.running and not node.server.paused for node in self.nodes[label]):
            return None  # no writer left to ask (as the two-region drill reports it)
        try:
            for node in self.nodes[label]:
                if not node.server.running or node.server.paused:
                    continue
                with node.client(timeout=5.0) as client:
                    if client.info("replication").get("role") != "master":
                        continue
                    present.update(client.keys("drill:write:*"))
        except redis.RedisError:
            return None
        return sum(1 for ack in self.client.stats.acks if f"drill:write:{ack.seq:06d}" not in present)

    def primary_hostnames(self, label: str) -> list[str]:
        found = []
        for node in self.nodes[label]:
            if node.server.running and not node.server.paused:
                with node.client() as client:
                    if client.info("replication").get("role") == "master":
                        found.append(node.hostname.split(".")[0])
        return sorted(found)


def _wait_until(nodes: list[ClusterNodeProcess], ready: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    for node in nodes:
        while True:
            with node.client(timeout=2.0) as client:
                if ready(client):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{node.hostname} not {what} within {timeout:g}s")
            time.sleep(0.05)


def _wait_until_writers(nodes: list[ClusterNodeProcess]) -> None:
    """Each node a primary and its cluster state ok (it owns its slots with the new epoch)."""
    _wait_until(
        nodes,
        lambda c: c.info("replication").get("role") == "master" and c.cluster("INFO").get("cluster_state") == "ok",
        "a writer",
    )


def _wait_until_replicas(nodes: list[ClusterNodeProcess]) -> None:
    """The old writer region's nodes demoted by gossip and in sync with the new primaries."""
    _wait_until(
        nodes,
        lambda c: (info := c.info("replication")).get("role") == "slave" and info.get("master_link_status") == "up",
        "a synced replica",
    )


def shard_of(key: str) -> int:
    slot = key_slot(key.encode())
    return next(index for index, (low, high) in enumerate(even_ranges(SHARDS), start=1) if low <= slot <= high)


def shards_written_after(world: World, since: float) -> set[int]:
    assert world.client is not None
    return {shard_of(f"drill:write:{ack.seq:06d}") for ack in world.client.stats.acks if ack.at >= since}


__all__ = ["DEFAULT_PASSWORD", "IN_REGION_FAILOVER_S", "SHARDS", "ShardedWorld", "shards_written_after"]
