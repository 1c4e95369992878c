"""gds_client's cluster mode against a real cluster spanning two "regions": TLS+AUTH redis-servers, and
AUTH valkey-servers (no TLS) for every case that is not about TLS (tests/conftest.py).

Region A's nodes are ``grpa-000S-001.grpa.abc123.use1.cache.amazonaws.com``, region B's ``grpb-...usw2...``;
each node's certificate names itself and ``*.<its group's domain>`` (as ElastiCache's do), so
``clustercfg.<group>...`` verifies and ``redis.internal`` does not. Nodes announce their hostnames and
CLUSTER SLOTS names them by hostname (``cluster-preferred-endpoint-type hostname``); the injected resolver
answers ``redis.internal`` as a CNAME to the current writer region's configuration endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
from redis.crc import key_slot

from gds_client import ClientSettings, Target, connect_cluster
from tests.conftest import redis_only
from tools.localcluster import ClusterNodeProcess, LocalCluster, even_ranges
from tools.localredis import DEFAULT_PASSWORD, TLS_ENGINES, TlsFiles

pytestmark = [pytest.mark.redis, pytest.mark.slow]

DOMAINS = {"grpa": "grpa.abc123.use1.cache.amazonaws.com", "grpb": "grpb.abc123.usw2.cache.amazonaws.com"}


@dataclass
class Dns:
    """redis.internal -> CNAME clustercfg.<writer group's domain> -> one of that group's live nodes."""

    cluster: LocalCluster
    writer: str = "grpa"
    follow_cname: bool = True
    lookups: list[str] = field(default_factory=list)

    def __call__(self, name: str) -> Target:
        self.lookups.append(name)
        if name == "redis.internal":
            live = [n for n in self.cluster.nodes if n.hostname.startswith(f"{self.writer}-") and n.server.running]
            canonical = f"clustercfg.{DOMAINS[self.writer]}" if self.follow_cname else name
            return Target(canonical, "127.0.0.1", live[0].server.port)
        node = next((n for n in self.cluster.nodes if n.hostname == name), None)
        if node is None:
            raise redis.ConnectionError(f"cannot resolve {name}")
        return Target(name, "127.0.0.1", node.server.port)


@pytest.fixture
def pair(engine: str, tls_files: TlsFiles) -> Iterator[tuple[LocalCluster, list[ClusterNodeProcess]]]:
    with LocalCluster(
        "grpa",
        shards=3,
        replicas=0,
        tls=tls_files if engine in TLS_ENGINES else None,
        dns_suffix=DOMAINS["grpa"],
        preferred_endpoint="hostname",
        engine=engine,
    ) as cluster:
        yield cluster, cluster.add_region("grpb", dns_suffix=DOMAINS["grpb"])


def settings(tls: TlsFiles | None, **overrides: object) -> ClientSettings:
    base = ClientSettings(
        host="redis.internal",
        port=6379,
        tls=tls is not None,
        ca_file=str(tls.ca_cert) if tls else None,
        password=DEFAULT_PASSWORD,
        connect_timeout_s=0.5,
        socket_timeout_s=0.5,
        retries=3,
        readonly_retries=2,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
        cluster=True,
    )
    return ClientSettings(**{**base.__dict__, **overrides})


def key_per_shard(shards: int = 3) -> list[str]:
    keys = []
    for low, high in even_ranges(shards):
        number = 0
        while not low <= key_slot(f"k{{{number}}}".encode()) <= high:
            number += 1
        keys.append(f"k{{{number}}}")
    return keys


@redis_only
def test_writes_every_shard_with_tls_verified_against_canonical_names(
    pair: tuple[LocalCluster, list[ClusterNodeProcess]], tls_files: TlsFiles
) -> None:
    cluster, _ = pair
    dns = Dns(cluster)
    client = connect_cluster(settings(tls_files), resolver=dns)
    for key in key_per_shard():
        assert client.set(key, "v1")
        assert client.get(key) == "v1"
    assert client.last_target == Target(f"clustercfg.{DOMAINS['grpa']}", "127.0.0.1", cluster.nodes[0].server.port)
    nodes_used = {name for name in dns.lookups if name != "redis.internal"}
    assert nodes_used == {f"grpa-000{n}-001.{DOMAINS['grpa']}" for n in (1, 2, 3)}  # one per shard primary
    client.close()

    no_cname = Dns(cluster, follow_cname=False)  # a client that verified redis.internal: fails closed
    with pytest.raises((redis.ConnectionError, redis.exceptions.RedisClusterException)) as failure:
        connect_cluster(settings(tls_files), resolver=no_cname)
    assert "certificate verify failed" in str(failure.value), str(failure.value)


def test_follows_a_promotion_when_the_old_region_dies(pair: tuple[LocalCluster, list[ClusterNodeProcess]]) -> None:
    """Every B node takes its shard over (the drill's promotion), region A dies, redis.internal moves:
    the client's next write to every shard succeeds, through a topology refreshed via redis.internal."""
    cluster, region_b = pair
    dns = Dns(cluster)
    client = connect_cluster(settings(cluster.tls), resolver=dns)
    keys = key_per_shard()
    for key in keys:
        client.set(key, "before")
    # B's replica of each shard holds the write before it takes over (a promotion keeps what replicated)
    deadline = time.monotonic() + 10
    for key, node in zip(keys, region_b, strict=True):
        with node.client() as replica:
            replica.execute_command("READONLY")
            while replica.get(key) != "before" and time.monotonic() < deadline:
                time.sleep(0.02)
    for node in region_b:
        with node.client() as admin:
            admin.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    cluster.wait_ok(nodes=region_b)
    for node in cluster.nodes:
        if node.hostname.startswith("grpa-"):
            node.server.kill()
    dns.writer = "grpb"
    for key in keys:
        assert client.get(key) == "before"  # replicated before the promotion
        assert client.set(key, "after")
    assert client.last_target is not None
    assert client.last_target.canonical_name == f"clustercfg.{DOMAINS['grpb']}"
    with region_b[0].client() as check:
        assert {check.execute_command("CLUSTER", "KEYSLOT", key) for key in keys}  # sanity: the cluster answers
    for key, node in zip(keys, region_b, strict=True):
        with node.client() as direct:
            assert direct.get(key) == "after"


def test_readonly_refreshes_the_topology_and_is_bounded(
    pair: tuple[LocalCluster, list[ClusterNodeProcess]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """READONLY (what a former writer region's primaries answer) makes the client ask redis.internal for the
    topology again and retry; READONLY every time reaches the caller after readonly_retries."""
    cluster, _ = pair
    dns = Dns(cluster)
    sleeps: list[float] = []
    client = connect_cluster(settings(cluster.tls), resolver=dns)
    client._sleep = sleeps.append
    base = redis.cluster.RedisCluster.execute_command
    failures = {"left": 1}

    def flaky(self: redis.cluster.RedisCluster, *args: object, **kwargs: object) -> object:
        if args and args[0] == "SET" and failures["left"] > 0:
            failures["left"] -= 1
            raise redis.ReadOnlyError("You can't write against a read only replica.")
        return base(self, *args, **kwargs)

    monkeypatch.setattr(redis.cluster.RedisCluster, "execute_command", flaky)
    lookups_before = dns.lookups.count("redis.internal")
    assert client.set("k", "v")
    assert dns.lookups.count("redis.internal") > lookups_before  # the refresh went through redis.internal
    assert len(sleeps) == 1

    failures["left"] = 100
    sleeps.clear()
    with pytest.raises(redis.ReadOnlyError):
        client.set("k", "v")
    assert sleeps == [0.02, 0.04]  # readonly_retries = 2, exponential backoff from 0.01 s
