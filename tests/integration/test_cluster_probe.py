"""The cluster-mode probe against real cluster-enabled servers: redis-server (TLS + AUTH, the cluster bus over
TLS) and valkey-server (AUTH, no TLS; its CLUSTER SHARDS reply as Valkey 9.1 shapes it): every test runs on both.

Each cluster is built with the cluster commands (tools/localcluster.py); faults are real: SIGSTOP, kill,
CLUSTER FAILOVER TAKEOVER, CLUSTER SETSLOT/MIGRATE (resharding), DELSLOTS, a replica whose link to its
primary fails AUTH. The "replica region" is a second replication group's nodes (``grpb-0001-001`` ...)
replicating every shard of the first one, as tools/drill/sharded.py builds regions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws
from redis.crc import key_slot

from gdfailover.cluster_probe import ClusterProbeResult, heartbeat_key_for_range, run_cluster_probe
from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials
from gdfailover.redis_client import connect
from tests.conftest import probe_env
from tools.invoke import emf_metrics, invoke_function
from tools.localcluster import ClusterNodeProcess, LocalCluster, move_slots
from tools.localredis import DEFAULT_PASSWORD, TLS_ENGINES, RedisServer, TlsFiles

pytestmark = [pytest.mark.redis, pytest.mark.slow]

BUDGET_S = 1.0
SLACK_S = 0.5
CREDS = Credentials(password=DEFAULT_PASSWORD)


def probe(cluster_node: ClusterNodeProcess | RedisServer, group: str) -> tuple[ClusterProbeResult, float]:
    """The probe against that node, with TLS when the node serves it."""
    server = cluster_node.server if isinstance(cluster_node, ClusterNodeProcess) else cluster_node
    settings = ProbeSettings(
        host="127.0.0.1",
        port=server.port,
        tls=server.tls is not None,
        tls_ca_file=str(server.tls.ca_cert) if server.tls else None,
        region=group,
        replication_group_id=group,
        timeout_seconds=BUDGET_S,
        cluster_mode=True,
    )
    started = time.monotonic()
    result = run_cluster_probe(settings, lambda: CREDS, connect)
    return result, time.monotonic() - started


def engine_tls(engine: str, tls_files: TlsFiles) -> TlsFiles | None:
    return tls_files if engine in TLS_ENGINES else None


@pytest.fixture
def cluster(engine: str, tls_files: TlsFiles) -> Iterator[LocalCluster]:
    with LocalCluster("grpa", shards=3, replicas=1, tls=engine_tls(engine, tls_files), engine=engine) as built:
        yield built


@pytest.fixture
def pair(engine: str, tls_files: TlsFiles) -> Iterator[tuple[LocalCluster, list[ClusterNodeProcess]]]:
    """Region A (grpa: 3 shards, each primary + replica) and region B (grpb: one replica of every shard)."""
    with LocalCluster("grpa", shards=3, replicas=1, tls=engine_tls(engine, tls_files), engine=engine) as built:
        yield built, built.add_region("grpb")


def test_healthy_writer_through_the_handler(cluster: LocalCluster, capsys: pytest.CaptureFixture[str]) -> None:
    """The real handler from template.yaml with REDIS_CLUSTER_MODE=true: one heartbeat per shard, in its slots."""
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name="redis-auth-cluster", SecretString=DEFAULT_PASSWORD
        )["ARN"]
        env = probe_env(
            cluster.node(2, 2).server.port,  # a replica as the "configuration endpoint": discovery works anywhere
            cluster.tls,
            REDIS_CLUSTER_MODE="true",
            REDIS_AUTH_SECRET_ARN=secret,
            REPLICATION_GROUP_ID="grpa",
        )
        capsys.readouterr()
        result = invoke_function(
            "ProbeFunction", {"source": "test"}, env_vars={"ProbeFunction": env}, region="us-east-1"
        )
    assert result["status"] == "healthy", result["detail"]
    assert (result["healthy"], result["role"], result["shard_count"]) == (1, "writer", 3)
    assert emf_metrics(capsys.readouterr().out)["HealthCheckStatus"] == 1
    for shard, primary in zip(result["shards"], cluster.primaries(), strict=True):
        low, high = (int(x) for x in shard["slots"].split("-"))
        key = heartbeat_key_for_range("gds-failover", low, high)
        assert low <= key_slot(key.encode()) <= high
        with primary.client() as client:
            assert '"region"' in (client.get(key) or ""), f"no heartbeat on {primary.hostname}"
        assert (shard["status"], shard["node"]) == ("healthy", primary.hostname)


def test_replica_region_reports_the_oldest_shard(pair: tuple[LocalCluster, list[ClusterNodeProcess]]) -> None:
    """Shard 2's cross-region replication stops (its link fails AUTH): B's HeartbeatAge is shard 2's age,
    the result names shard 2, and the link vote stays up (the other shards still hear from A)."""
    cluster, region_b = pair
    writer, _ = probe(cluster.node(1, 1), "grpa")
    assert writer.status == "healthy", writer.detail
    cluster.wait_ok()
    replica, _ = probe(region_b[0], "grpb")
    assert (replica.status, replica.role, replica.shard_count) == ("read_only", "replica", 3), replica.detail
    assert {s.node for s in replica.shards} == {"grpb-0001-001", "grpb-0002-001", "grpb-0003-001"}
    assert replica.replication_link_up == 1

    stuck = region_b[1]  # grpb-0002-001
    with stuck.client() as client:
        client.config_set("masterauth", "wrong")
        client.execute_command("CLIENT", "KILL", "TYPE", "master")
    time.sleep(1.5)
    writer, _ = probe(cluster.node(1, 1), "grpa")
    assert writer.status == "healthy"
    time.sleep(0.3)
    replica, _ = probe(region_b[0], "grpb")
    ages = {s.node: s.heartbeat_age_s for s in replica.shards}
    assert (ages["grpb-0002-001"] or 0.0) >= 1.5, ages
    assert ages["grpb-0001-001"] is not None, ages
    assert ages["grpb-0001-001"] < 1.0, ages
    assert replica.heartbeat_age_s == max(a for a in ages.values() if a is not None) == ages["grpb-0002-001"]
    assert "grpb-0002-001" in replica.detail
    links = {s.node: s.replication_link for s in replica.shards}
    assert (links["grpb-0002-001"], links["grpb-0001-001"]) == ("down", "up")
    assert replica.replication_link_up == 1  # the writer region is alive


def test_a_shard_that_stops_answering_times_out_within_the_budget(cluster: LocalCluster) -> None:
    stopped = cluster.node(3, 1)
    stopped.server.pause()
    try:
        result, elapsed = probe(cluster.node(1, 1), "grpa")
    finally:
        stopped.server.resume()
    assert elapsed < BUDGET_S + SLACK_S
    assert (result.status, result.healthy) == ("timeout", 0)
    by_node = {s.node: s.status for s in result.shards}
    assert by_node == {"grpa-0001-001": "healthy", "grpa-0002-001": "healthy", "grpa-0003-001": "timeout"}
    assert "grpa-0003-001" in result.detail


def test_fifteen_shards_hold_the_budget_with_stopped_primaries(engine: str, tls_files: TlsFiles) -> None:
    """15 shards, 4 of them hung: the parallel probe still returns inside its budget and names the 4."""
    with LocalCluster("big", shards=15, replicas=0, tls=engine_tls(engine, tls_files), engine=engine) as big:
        healthy, _ = probe(big.node(1, 1), "big")
        assert (healthy.status, healthy.shard_count) == ("healthy", 15), healthy.detail
        hung = [big.node(shard, 1) for shard in (3, 7, 11, 15)]
        for node in hung:
            node.server.pause()
        try:
            result, elapsed = probe(big.node(1, 1), "big")
        finally:
            for node in hung:
                node.server.resume()
    assert elapsed < BUDGET_S + SLACK_S
    assert result.status == "timeout"
    assert sorted(s.node for s in result.shards if s.status == "timeout") == sorted(n.hostname for n in hung)
    assert sum(s.status == "healthy" for s in result.shards) == 11


def test_killed_primary_then_in_region_takeover(cluster: LocalCluster) -> None:
    """A shard's primary dies: that shard is refused; its replica takes over: every shard writable again."""
    cluster.node(2, 1).server.kill()
    result, _ = probe(cluster.node(1, 1), "grpa")
    assert result.status == "refused", result.detail
    assert [s.status for s in result.shards] == ["healthy", "refused", "healthy"]
    with cluster.node(2, 2).client() as client:
        client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    deadline = time.monotonic() + 10
    while True:
        result, _ = probe(cluster.node(1, 1), "grpa")
        if result.status == "healthy" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert result.status == "healthy", result.detail
    assert [s.node for s in result.shards] == ["grpa-0001-001", "grpa-0002-002", "grpa-0003-001"]


def test_resharding_in_flight_and_a_new_shard(cluster: LocalCluster) -> None:
    """The slot of shard 1's heartbeat is MIGRATING (its key already moved): the probe follows the ASK.
    Then a fourth shard takes slots from shard 3: the next probe discovers 4 shards, all healthy."""
    first, _ = probe(cluster.node(1, 1), "grpa")
    assert first.status == "healthy"
    source, target = cluster.node(1, 1), cluster.node(2, 1)
    key = heartbeat_key_for_range("gds-failover", 0, 5460)
    slot = key_slot(key.encode())
    with source.client() as src, target.client() as dst:
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source.node_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target.node_id)
        src.execute_command("MIGRATE", "127.0.0.1", target.server.port, key, 0, 5000, "AUTH", DEFAULT_PASSWORD)
    during, _ = probe(cluster.node(1, 1), "grpa")
    assert during.status == "healthy", during.detail
    with target.client() as dst:
        dst.execute_command("ASKING")
        assert dst.get(key) is not None  # the write landed on the target
    move_slots(source, target, [slot], DEFAULT_PASSWORD)  # finish: SETSLOT NODE on both

    new = cluster.new_node(4, 1)
    cluster.meet([new])
    cluster.wait_known()
    with new.client() as client:
        deadline = time.monotonic() + 10
        while int(client.cluster("INFO").get("cluster_known_nodes", 0)) < len(cluster.nodes):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    move_slots(cluster.node(3, 1), new, range(15000, 15100), DEFAULT_PASSWORD)
    cluster.wait_ok()
    after, _ = probe(cluster.node(1, 1), "grpa")
    assert (after.status, after.shard_count) == ("healthy", 4), after.detail
    assert "15000-15099" in {s.slots for s in after.shards}


def test_slots_nobody_serves(cluster: LocalCluster) -> None:
    for node in cluster.nodes:
        with node.client() as client:
            client.execute_command("CLUSTER", "DELSLOTSRANGE", 16000, 16383)
    time.sleep(0.3)
    result, _ = probe(cluster.node(1, 1), "grpa")
    assert (result.status, result.healthy) == ("slots_uncovered", 0)
    assert "16000-16383" in result.detail
    # cluster-require-full-coverage: every node now answers the writes with CLUSTERDOWN
    assert {s.status for s in result.shards} == {"cluster_down"}, result.detail


def test_a_group_without_cluster_mode_is_named(server: RedisServer) -> None:
    result, _ = probe(server, "grpa")
    assert isinstance(result, ClusterProbeResult)
    assert (result.status, result.healthy) == ("not_a_cluster", 0)


def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.2)


def test_a_whole_group_promotion_makes_region_b_the_writer_of_every_shard(
    pair: tuple[LocalCluster, list[ClusterNodeProcess]],
) -> None:
    """Every B node takes its shard over (as the whole group changes role in FailoverGlobalReplicationGroup):
    B's probe reports a healthy writer on every shard, A's (its nodes now replicas of B's) read-only with
    B's heartbeats."""
    cluster, region_b = pair
    assert probe(cluster.node(1, 1), "grpa")[0].status == "healthy"
    for node in region_b:
        with node.client() as client:
            client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    _until(lambda: probe(region_b[0], "grpb")[0].status == "healthy")
    writer, _ = probe(region_b[0], "grpb")
    assert [s.node for s in writer.shards] == ["grpb-0001-001", "grpb-0002-001", "grpb-0003-001"]
    cluster.wait_ok()
    _until(lambda: probe(cluster.node(1, 1), "grpa")[0].status == "read_only")
    former, _ = probe(cluster.node(1, 1), "grpa")
    assert former.role == "replica"
    assert {s.heartbeat_region for s in former.shards} == {"grpb"}
    assert all("MOVED to grpb-" in s.detail for s in former.shards)


def test_an_in_region_failover_of_one_shard_is_no_cross_region_signal(
    pair: tuple[LocalCluster, list[ClusterNodeProcess]],
) -> None:
    """A's shard-2 primary dies and its in-region replica takes over: meanwhile B still hears from A on the
    other shards (the link vote stays up: no promotion evidence); afterwards every B shard replicates again
    and A is a healthy writer."""
    cluster, region_b = pair
    cluster.node(2, 1).server.kill()

    def shard_2_link_down() -> bool:  # the replica notices the reset connection within moments, not at once
        result, _ = probe(region_b[0], "grpb")
        return {s.node: s.replication_link for s in result.shards}["grpb-0002-001"] == "down"

    _until(shard_2_link_down)
    during, _ = probe(region_b[0], "grpb")
    assert during.replication_link_up == 1  # shards 1 and 3 still hear from A: no promotion evidence
    with cluster.node(2, 2).client() as client:
        client.execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    _until(lambda: probe(cluster.node(1, 1), "grpa")[0].status == "healthy")

    def b_relinked() -> bool:
        result, _ = probe(region_b[0], "grpb")
        return result.status == "read_only" and {s.replication_link for s in result.shards} == {"up"}

    _until(b_relinked, timeout=60.0)
