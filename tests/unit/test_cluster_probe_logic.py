"""The cluster-mode probe's logic with scripted nodes: topology parsing, keys per shard, every classification.

The real-server behaviour (TLS, AUTH, SIGSTOP, resharding, takeover) is in
tests/integration/test_cluster_probe.py; these cases script the replies a real node would give.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from gdfailover.cluster_probe import (
    ClusterNode,
    Shard,
    heartbeat_key_for_range,
    local_nodes_filter,
    parse_cluster_shards,
    parse_cluster_slots,
    run_cluster_probe,
    slot_owner_first,
    uncovered_ranges,
)
from gdfailover.config import ConfigError, ProbeSettings
from gdfailover.credentials import Credentials
from gdfailover.probe import Heartbeat

SHARDS_REPLY = [
    {
        "slots": [0, 5460],
        "nodes": [
            {"id": "a1", "port": 7001, "tls-port": 8001, "ip": "10.0.0.1", "endpoint": "10.0.0.1",
             "hostname": "grpa-0001-001.grpa.x.use1.cache.amazonaws.com", "role": "master",
             "replication-offset": 100, "health": "online"},
            {"id": "b1", "port": 7004, "tls-port": 8004, "ip": "10.1.0.1", "endpoint": "10.1.0.1",
             "hostname": "grpb-0001-001.grpb.x.usw2.cache.amazonaws.com", "role": "replica",
             "replication-offset": 90, "health": "online"},
        ],
    },
    {"slots": [], "nodes": [{"id": "spare", "port": 7009, "ip": "10.0.0.9", "endpoint": "10.0.0.9", "role": "master"}]},
    {
        "slots": [5461, 10922, 12000, 12010],
        "nodes": [
            {"id": "a2", "port": 7002, "ip": "10.0.0.2", "endpoint": "10.0.0.2", "hostname": "grpa-0002-001",
             "role": "master", "health": "online"},
        ],
    },
]  # fmt: skip


def test_cluster_shards_parsed_with_tls_ports_and_empty_shards_dropped() -> None:
    shards = parse_cluster_shards(SHARDS_REPLY, tls=True)
    assert [s.ranges for s in shards] == [((0, 5460),), ((5461, 10922), (12000, 12010))]
    assert shards[0].nodes[0].port == 8001
    assert shards[1].nodes[0].port == 7002  # no tls-port announced: the plain one
    assert shards[1].label == "5461-10922,12000-12010"
    flat = [["slots", [0, 16383], "nodes", [["id", "n", "port", 1, "endpoint", "h", "role", "master"]]]]
    assert parse_cluster_shards(flat, tls=False)[0].primary == ClusterNode("n", "h", 1, "master", hostname="")


def test_two_masters_in_one_shard_the_slot_owner_is_the_primary() -> None:
    """Valkey's CLUSTER SHARDS after an in-shard takeover with the old primary down: both listed as master
    (the shape valkey-server 9.1 gave in tests/integration/test_cluster_probe.py). CLUSTER SLOTS decides."""
    reply = [
        {"slots": [8192, 16383], "nodes": [
            {"id": "old", "port": 7001, "ip": "10.0.0.1", "endpoint": "10.0.0.1", "hostname": "g-0002-001",
             "role": "master", "replication-offset": 0, "health": "online"},
            {"id": "new", "port": 7002, "ip": "10.0.0.2", "endpoint": "10.0.0.2", "hostname": "g-0002-002",
             "role": "master", "replication-offset": 14, "health": "online"},
        ]},
    ]  # fmt: skip
    shards = parse_cluster_shards(reply, tls=False)
    assert shards[0].primary is not None
    assert shards[0].primary.node_id == "old"
    by_slots = parse_cluster_slots([[8192, 16383, ["10.0.0.2", 7002, "new"]]])
    resolved = slot_owner_first(shards, by_slots)
    assert resolved[0].primary is not None
    assert resolved[0].primary.node_id == "new"
    assert [node.node_id for node in resolved[0].nodes] == ["new", "old"]
    assert slot_owner_first(shards, []) == shards  # no owner known: unchanged


def test_cluster_slots_fallback_groups_ranges_by_primary() -> None:
    reply = [
        [0, 99, ["10.0.0.1", 7001, "a1", {"hostname": "g-0001-001"}], ["10.0.0.4", 7004, "r1"]],
        [200, 299, ["10.0.0.1", 7001, "a1"]],
        [100, 199, ["10.0.0.2", 7002, "a2"]],
    ]
    shards = parse_cluster_slots(reply)
    assert [s.ranges for s in shards] == [((0, 99), (200, 299)), ((100, 199),)]
    assert shards[0].nodes[0].hostname == "g-0001-001"
    assert shards[0].nodes[1].role == "replica"


def test_uncovered_ranges() -> None:
    primary = ClusterNode("p", "h", 1, "master")
    assert uncovered_ranges([Shard(((0, 16383),), (primary,))]) == []
    shards = [Shard(((0, 99),), (primary,)), Shard(((200, 16000),), (primary,))]
    assert uncovered_ranges(shards) == [(100, 199), (16001, 16383)]
    no_primary = Shard(((0, 16383),), (ClusterNode("r", "h", 1, "replica"),))
    assert uncovered_ranges([no_primary]) == [(0, 16383)]


def test_heartbeat_key_lands_in_its_range_and_is_the_same_everywhere() -> None:
    rng = random.Random(15)
    for _ in range(200):
        low = rng.randrange(0, 16384)
        high = min(16383, low + rng.choice([0, 1, 5, 100, 5000]))
        key = heartbeat_key_for_range("gds-failover", low, high)
        assert low <= key_slot(key.encode()) <= high
        assert key.startswith("gds-failover:heartbeat:{s")
        heartbeat_key_for_range.cache_clear()
        assert heartbeat_key_for_range("gds-failover", low, high) == key  # deterministic: every region agrees


def test_local_filter_keeps_this_groups_nodes_or_everyone() -> None:
    shards = parse_cluster_shards(SHARDS_REPLY, tls=True)
    is_local = local_nodes_filter(shards, "GRPB")
    assert [n.node_id for s in shards for n in s.nodes if is_local(n)] == ["b1"]
    anyone = local_nodes_filter(shards, "other")  # no hostname matches: the topology is taken whole
    assert all(anyone(n) for s in shards for n in s.nodes)


def test_prefix_with_braces_is_refused_in_cluster_mode() -> None:
    with pytest.raises(ConfigError, match="HEARTBEAT_KEY_PREFIX"):
        ProbeSettings.from_env({"REDIS_HOST": "h", "REDIS_CLUSTER_MODE": "true", "HEARTBEAT_KEY_PREFIX": "{x}"})
    assert ProbeSettings.from_env({"REDIS_HOST": "h", "HEARTBEAT_KEY_PREFIX": "{x}"}).cluster_mode is False


# --- scripted nodes ---------------------------------------------------------------------------------


class FakeNode:
    """One node: ``on_set``/``on_get`` return a value or raise; records the commands it got."""

    def __init__(self, on_set: Callable[[str, str], Any] | None = None, data: dict[str, str] | None = None) -> None:
        self.data = data if data is not None else {}
        self.on_set = on_set
        self.commands: list[tuple[Any, ...]] = []
        self.info_reply: dict[str, Any] = {"master_link_status": "up", "master_last_io_seconds_ago": 1}

    def ping(self) -> bool:
        return True

    def set(self, name: str, value: str, ex: int | None = None) -> bool:
        self.commands.append(("SET", name))
        if self.on_set is not None:
            self.on_set(name, value)
        self.data[name] = value
        return True

    def get(self, name: str) -> str | None:
        return self.data.get(name)

    def info(self, section: str | None = None) -> dict[str, Any]:
        return self.info_reply

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.commands.append(args)
        if args[:2] == ("CLUSTER", "SHARDS"):
            return TOPOLOGY
        return "OK"

    def close(self) -> None:
        pass


def _primary(number: int) -> dict[str, Any]:
    return {
        "id": f"a{number}",
        "port": number,
        "endpoint": f"n{number}",
        "hostname": f"g-000{number}-001",
        "role": "master",
    }


TOPOLOGY: list[dict[str, Any]] = [
    {"slots": [0, 8191], "nodes": [_primary(1)]},
    {"slots": [8192, 16383], "nodes": [_primary(2)]},
]


def run(nodes: dict[str, FakeNode], **settings: Any) -> Any:
    entry = FakeNode()
    options: dict[str, Any] = {
        "host": "cfg", "tls": False, "cluster_mode": True, "replication_group_id": "g", "region": "r",
        "timeout_seconds": 1.0,
    } | settings  # fmt: skip

    def connector(node_settings: ProbeSettings, creds: Credentials, timeout: float) -> FakeNode:
        return entry if node_settings.host == "cfg" else nodes[node_settings.host]

    return run_cluster_probe(ProbeSettings(**options), lambda: Credentials(password="x"), connector)


def raising(error: Exception) -> Callable[[str, str], Any]:
    def fail(name: str, value: str) -> None:
        raise error

    return fail


def test_every_shard_written_is_healthy() -> None:
    nodes = {"n1": FakeNode(), "n2": FakeNode()}
    result = run(nodes)
    assert (result.status, result.healthy, result.role, result.shard_count) == ("healthy", 1, "writer", 2)
    assert [s.node for s in result.shards] == ["g-0001-001", "g-0002-001"]
    assert all(len(n.data) == 1 for n in nodes.values())


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (redis.exceptions.ClusterDownError("The cluster is down"), "cluster_down"),
        (redis.exceptions.TryAgainError("Multiple keys request during rehashing of slot"), "try_again"),
        (redis.exceptions.MasterDownError("Link with MASTER is down"), "write_rejected"),
        (redis.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"), "oom"),
        (redis.ConnectionError("Connection refused"), "refused"),
    ],
)
def test_one_failing_shard_decides_the_status(error: Exception, status: str) -> None:
    result = run({"n1": FakeNode(), "n2": FakeNode(on_set=raising(error))})
    assert (result.status, result.healthy) == (status, 0)
    assert [s.status for s in result.shards] == ["healthy", status]
    assert "g-0002-001" in result.detail


def test_moved_inside_the_group_is_followed_then_a_loop_is_named() -> None:
    once = {"n1": FakeNode(on_set=raising(redis.exceptions.MovedError("5 n2:2"))), "n2": FakeNode()}
    assert run(once).status == "healthy"
    ping_pong = {
        "n1": FakeNode(on_set=raising(redis.exceptions.MovedError("5 n2:2"))),
        "n2": FakeNode(on_set=raising(redis.exceptions.MovedError("5 n1:1"))),
    }
    result = run(ping_pong)
    assert result.status == "redirect_loop"


def test_readonly_everywhere_is_a_replica_region_aged_by_its_oldest_shard() -> None:
    old = Heartbeat("us-east-1", 1000.0, "n").encode()
    new = Heartbeat("us-east-1", 1030.0, "n").encode()
    readonly = raising(redis.ReadOnlyError("You can't write against a read only replica."))
    key1, key2 = heartbeat_key_for_range("gds-failover", 0, 8191), heartbeat_key_for_range("gds-failover", 8192, 16383)
    nodes = {"n1": FakeNode(readonly, {key1: new}), "n2": FakeNode(readonly, {key2: old})}
    nodes["n2"].info_reply = {"master_link_status": "down", "master_last_io_seconds_ago": -1}
    clock = iter([1040.0] * 10)
    options = {"host": "cfg", "tls": False, "cluster_mode": True, "replication_group_id": "g", "region": "r"}
    result = run_cluster_probe(
        ProbeSettings(**options),
        lambda: Credentials(password="x"),
        lambda s, c, t: FakeNode() if s.host == "cfg" else nodes[s.host],
        clock=lambda: next(clock),
    )
    assert (result.status, result.role) == ("read_only", "replica")
    assert [s.heartbeat_age_s for s in result.shards] == [10.0, 40.0]
    assert result.heartbeat_age_s == 40.0
    assert "oldest heartbeat 40s on 8192-16383 (g-0002-001)" in result.detail
    assert (result.replication_link, result.replication_link_up) == ("up", 1)  # shard 1 still hears the writer
    as_logged = result.as_dict()  # what the handler returns to the state machine (its wake-up reads the vote)
    assert as_logged["replication_link_up"] == 1
    assert [s["heartbeat_age_s"] for s in as_logged["shards"]] == [10.0, 40.0]
    assert ("READONLY",) in nodes["n1"].commands  # reads on a cluster replica need READONLY


def test_half_writable_half_read_only_is_mixed() -> None:
    readonly = raising(redis.ReadOnlyError("You can't write against a read only replica."))
    result = run({"n1": FakeNode(), "n2": FakeNode(readonly)})
    assert (result.status, result.healthy, result.role) == ("mixed_roles", 0, "unknown")


def test_a_shard_whose_primary_failed_has_no_primary() -> None:
    global TOPOLOGY  # noqa: PLW0603 - the scripted topology is module state the fake entry node returns
    saved = TOPOLOGY
    TOPOLOGY = [
        saved[0],
        {"slots": [8192, 16383], "nodes": [
            {"id": "a2", "port": 2, "endpoint": "n2", "hostname": "g-0002-001", "role": "master", "health": "failed"},
            {"id": "r2", "port": 3, "endpoint": "n3", "hostname": "g-0002-002", "role": "replica"},
        ]},
    ]  # fmt: skip
    try:
        result = run({"n1": FakeNode()})
    finally:
        TOPOLOGY = saved
    assert (result.status, result.healthy) == ("shard_without_primary", 0)
    assert "g-0002-001 failed" in result.detail


def test_secret_failure_before_discovery() -> None:
    def no_secret() -> Credentials:
        raise RuntimeError("AccessDenied")

    result = run_cluster_probe(ProbeSettings(host="cfg", cluster_mode=True), no_secret, lambda s, c, t: FakeNode())
    assert (result.status, result.stage, result.shard_count) == ("secret_unavailable", "auth_secret", 0)
