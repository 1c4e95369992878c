"""The probe of a cluster-mode-enabled (sharded) replication group: is EVERY shard of this region a writer?

A cluster-mode group has no primary endpoint: its configuration endpoint answers ``CLUSTER SHARDS``
(``CLUSTER SLOTS`` on an engine without it) with each shard's slot ranges and nodes. The probe discovers
the shards afresh on every run (online resharding changes them between probes), writes one heartbeat
key per shard whose hash slot lies in that shard's lowest slot range (the key's hash tag is computed,
the same in every region, so a replica region reads the key its writer wrote for the same shard), and
reads it back, on every shard's primary, in parallel (at most ``MAX_PARALLEL_SHARDS`` connections at a
time) under the probe's one time budget.

* Healthy writer = every shard writable and every slot served.
* Replica region = every shard read-only (``READONLY``, or a ``MOVED`` to a node outside this
  replication group: that shard's writer lives elsewhere). ``HeartbeatAge`` = the OLDEST shard's age
  (the lag gate and the trigger apply to the worst shard); each shard's age is in the result.
* The replication link is "up" when at least one shard's link to the writer is up and recent: the
  vote says "the writer REGION is alive" (ASSUMPTION, makes promotion less likely: one shard's stuck
  replication does not make the writer region look gone; a whole-group promotion would lose the lag
  of every healthy shard to fix one).

Only nodes of this replication group are probed: when nodes announce hostnames, those whose first
label starts with ``<ReplicationGroupId>-`` (ElastiCache names cluster-mode nodes
``<group>-0001-001``); a topology whose hostnames match nothing is taken whole.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, Protocol, cast

import redis
from redis.crc import key_slot

from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials
from gdfailover.probe import (
    HEALTHY,
    LINK_DOWN,
    LINK_UP,
    READ_ONLY,
    REPLICATION_LINK_MAX_IO_AGE_S,
    SECRET_UNAVAILABLE,
    STATUSES,
    TIMEOUT,
    VALUE_MISMATCH,
    Connector,
    Heartbeat,
    ProbeResult,
    reread_secret_after_auth_failure,
)
from gdfailover.redis_client import RedisLike, classify_error

SLOTS = 16384
#: Shards probed at the same time: one fresh TLS connection each. 15 shards = two rounds.
MAX_PARALLEL_SHARDS = 8
#: MOVED/ASK redirections followed inside this group before the shard counts as ``redirect_loop``.
MAX_REDIRECTS = 2

CLUSTER_DOWN = "cluster_down"
REDIRECT_LOOP = "redirect_loop"
TRY_AGAIN = "try_again"
SHARD_WITHOUT_PRIMARY = "shard_without_primary"
SLOTS_UNCOVERED = "slots_uncovered"
MIXED_ROLES = "mixed_roles"
NOT_A_CLUSTER = "not_a_cluster"

#: Statuses only the cluster-mode probe reports (added to the vocabulary of docs/probe.md).
CLUSTER_STATUSES: dict[str, str] = {
    CLUSTER_DOWN: "a shard answered CLUSTERDOWN (the cluster cannot serve the slot)",
    REDIRECT_LOOP: f"a shard's write was redirected (MOVED/ASK) more than {MAX_REDIRECTS} times inside the group",
    TRY_AGAIN: "a shard answered TRYAGAIN (slot migration in progress)",
    SHARD_WITHOUT_PRIMARY: "a shard has no primary, or none that is not failed, in this group",
    SLOTS_UNCOVERED: "some hash slots are served by no shard",
    MIXED_ROLES: "some shards are writable here and others read-only (a promotion in progress, or broken)",
    NOT_A_CLUSTER: "the endpoint is not cluster-mode enabled (set ClusterMode=disabled)",
}
ALL_STATUSES: dict[str, str] = {**STATUSES, **CLUSTER_STATUSES}

_FAILURE_ORDER = (  # the whole probe reports the first of these that any shard reports
    SLOTS_UNCOVERED,
    SHARD_WITHOUT_PRIMARY,
    CLUSTER_DOWN,
    "refused",
    "unresolvable",
    "unreachable",
    TIMEOUT,
    "tls_failed",
    "auth_failed",
    "loading",
    "oom",
    "write_rejected",
    TRY_AGAIN,
    REDIRECT_LOOP,
    VALUE_MISMATCH,
    "error",
)
_ANSWERED = frozenset({HEALTHY, READ_ONLY, "auth_failed", "loading", "oom", "write_rejected", VALUE_MISMATCH})
_ANSWERED |= {CLUSTER_DOWN, REDIRECT_LOOP, TRY_AGAIN, SHARD_WITHOUT_PRIMARY, SLOTS_UNCOVERED, MIXED_ROLES}


class ClusterRedisLike(RedisLike, Protocol):
    """What the cluster probe sends besides the single-group commands (redis.Redis satisfies it)."""

    def execute_command(self, *args: Any, **options: Any) -> Any: ...


def _everyone(node: ClusterNode) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class ClusterNode:
    node_id: str
    endpoint: str
    port: int
    role: str  # "master" / "replica"
    health: str = "online"  # "online" / "failed" / "loading"
    hostname: str = ""
    replication_offset: int = 0

    @property
    def address(self) -> str:
        return f"{self.endpoint}:{self.port}"

    @property
    def name(self) -> str:
        return self.hostname.split(".")[0] if self.hostname else self.address


@dataclass(frozen=True, slots=True)
class Shard:
    ranges: tuple[tuple[int, int], ...]
    nodes: tuple[ClusterNode, ...]

    @property
    def label(self) -> str:
        return ",".join(f"{low}-{high}" if low != high else str(low) for low, high in self.ranges)

    @property
    def primary(self) -> ClusterNode | None:
        return next((node for node in self.nodes if node.role == "master"), None)


@dataclass(frozen=True, slots=True)
class ShardReport:
    """One shard's outcome, as logged and returned in the probe result's ``shards``."""

    slots: str
    node: str
    status: str
    role: str
    stage: str
    heartbeat_age_s: float | None = None
    heartbeat_region: str | None = None
    replication_link: str | None = None
    link_last_io_s: float | None = None
    latency_ms: float = 0.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ClusterProbeResult(ProbeResult):
    """A ProbeResult (same metrics, same fields) plus every shard's outcome."""

    shard_count: int = 0
    shards: tuple[ShardReport, ...] = ()


# ---------------------------------------------------------------------------------------------------
# Topology
# ---------------------------------------------------------------------------------------------------
def parse_cluster_shards(reply: Any, tls: bool) -> list[Shard]:
    """``CLUSTER SHARDS`` (redis-py returns a list of dicts; RESP2 flat lists are accepted too)."""
    shards = []
    for raw in reply or ():
        entry = _as_map(raw)
        flat = [int(slot) for slot in entry.get("slots") or ()]
        ranges = tuple(sorted(zip(flat[0::2], flat[1::2], strict=True)))
        nodes = []
        for raw_node in entry.get("nodes") or ():
            node = _as_map(raw_node)
            port = node.get("tls-port") if tls else node.get("port")
            port = port or node.get("port") or node.get("tls-port")
            if port is None:
                continue
            nodes.append(
                ClusterNode(
                    node_id=str(node.get("id", "")),
                    endpoint=str(node.get("endpoint") or node.get("ip") or ""),
                    port=int(port),
                    role="master" if node.get("role") == "master" else "replica",
                    health=str(node.get("health", "online")),
                    hostname=str(node.get("hostname") or ""),
                    replication_offset=int(node.get("replication-offset") or 0),
                )
            )
        if ranges:  # "a shard may not be serving any slots while still having replicas": no data, not probed
            shards.append(Shard(ranges, tuple(nodes)))
    return sorted(shards, key=lambda shard: shard.ranges)


def parse_cluster_slots(reply: Any) -> list[Shard]:
    """``CLUSTER SLOTS`` (engines before 7.0): ``[start, end, [ip, port, id, {hostname}], replicas...]``."""
    by_primary: dict[str, tuple[list[tuple[int, int]], list[ClusterNode]]] = {}
    for entry in reply or ():
        low, high, *members = entry
        nodes = []
        for index, member in enumerate(members):
            extra = _as_map(member[3]) if len(member) > 3 else {}
            nodes.append(
                ClusterNode(
                    node_id=str(member[2]) if len(member) > 2 else f"{member[0]}:{member[1]}",
                    endpoint=str(member[0]),
                    port=int(member[1]),
                    role="master" if index == 0 else "replica",
                    hostname=str(extra.get("hostname") or ""),
                )
            )
        if not nodes:
            continue
        ranges, _ = by_primary.setdefault(nodes[0].node_id, ([], nodes))
        ranges.append((int(low), int(high)))
    shards = [Shard(tuple(sorted(ranges)), tuple(nodes)) for ranges, nodes in by_primary.values()]
    return sorted(shards, key=lambda shard: shard.ranges)


def _as_map(raw: Any) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return {str(key): value for key, value in raw.items()}
    items = list(raw or ())
    return {str(key): value for key, value in zip(items[0::2], items[1::2], strict=False)}


def uncovered_ranges(shards: Iterable[Shard]) -> list[tuple[int, int]]:
    """Slot ranges that no shard with a primary serves."""
    served = sorted(r for shard in shards if shard.primary is not None for r in shard.ranges)
    gaps, expected = [], 0
    for low, high in served:
        if low > expected:
            gaps.append((expected, low - 1))
        expected = max(expected, high + 1)
    if expected < SLOTS:
        gaps.append((expected, SLOTS - 1))
    return gaps


def local_nodes_filter(shards: list[Shard], replication_group_id: str) -> Callable[[ClusterNode], bool]:
    """Which nodes belong to this replication group (see the module docstring)."""
    prefix = f"{replication_group_id.lower()}-"
    named = [node for shard in shards for node in shard.nodes if node.hostname]
    if not any(node.hostname.lower().startswith(prefix) for node in named):
        return lambda node: True
    return lambda node: node.hostname.lower().startswith(prefix)


@functools.lru_cache(maxsize=4096)
def heartbeat_key_for_range(prefix: str, low: int, high: int) -> str:
    """The first ``<prefix>:heartbeat:{sN}`` (N = 0, 1, ...) whose hash slot lies in ``low..high``.

    Deterministic, so every region computes the same key for the same range. A range of k slots takes
    about 16384 / k tries (one CRC16 each); the result is cached per process.
    """
    for number in count():
        key = f"{prefix}:heartbeat:{{s{number}}}"
        if low <= key_slot(key.encode()) <= high:
            return key
    raise AssertionError("unreachable")  # pragma: no cover


def heartbeat_key(prefix: str, shard: Shard) -> str:
    low, high = shard.ranges[0]
    return heartbeat_key_for_range(prefix, low, high)


# ---------------------------------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    settings: ProbeSettings
    credentials: Callable[[], Credentials]
    connector: Connector
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    deadline: float
    stage: str = "auth_secret"
    creds: Credentials | None = None
    shards: list[Shard] = field(default_factory=list)
    reports: dict[int, ShardReport] = field(default_factory=dict)
    shard_stage: dict[int, str] = field(default_factory=dict)
    clients: list[RedisLike] = field(default_factory=list)
    is_local: Callable[[ClusterNode], bool] = _everyone
    #: The discovery connection, handed to the shard whose probed node it is (one TLS handshake fewer).
    entry: ClusterRedisLike | None = None
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)

    def take_entry(self, node: ClusterNode | None) -> ClusterRedisLike | None:
        """The discovery connection if it is connected to ``node`` (None: whatever is left of it)."""
        with self.lock:
            entry = self.entry
            if entry is None or (node is not None and node.address != f"{self.settings.host}:{self.settings.port}"):
                return None
            self.entry = None
            return entry

    def remaining(self) -> float:
        return max(0.05, self.deadline - self.monotonic())

    def open(self, node: ClusterNode) -> ClusterRedisLike:
        assert self.creds is not None
        client = self.connector(
            replace(self.settings, host=node.endpoint, port=node.port), self.creds, self.remaining()
        )
        with self.lock:
            self.clients.append(client)
        return cast(ClusterRedisLike, client)


def run_cluster_probe(
    settings: ProbeSettings,
    credentials: Callable[[], Credentials],
    connector: Connector,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> ClusterProbeResult:
    """Probe every shard once; always returns within ``settings.timeout_seconds`` (plus scheduling)."""
    started_wall, started = clock(), monotonic()
    run = _Run(settings, credentials, connector, clock, monotonic, started + settings.timeout_seconds)
    threading.Thread(target=_discover_and_probe, args=(run,), name="redis-cluster-probe", daemon=True).start()
    run.done.wait(timeout=max(0.0, run.deadline - monotonic()))
    latency_ms = round((monotonic() - started) * 1000.0, 2)
    with run.lock:
        finished = run.done.is_set()
        clients, reports = list(run.clients), dict(run.reports)
    if not finished:
        for client in clients:  # unblocks workers stuck in recv(); their socket timeouts are the backstop
            _close_quietly(client)
    return _summarize(run, reports, finished, latency_ms, started_wall)


def _discover_and_probe(run: _Run) -> None:
    try:
        creds = run.creds = run.credentials()
        run.stage = "connect"
        entry = ClusterNode("", run.settings.host, run.settings.port, "unknown")
        try:
            client = run.open(entry)  # connects and AUTHs
            client.ping()
        except Exception as error:
            fresh = reread_secret_after_auth_failure(run.credentials, creds, error)
            if fresh is None:
                raise
            # a rotated token: once more with the secret's current value, which every shard then uses
            run.creds = fresh
            client = run.open(entry)
            client.ping()
        run.stage = "discover"
        run.shards = _discover(client, run.settings.tls)
        run.entry = client
        run.stage = "shards"
        is_local = run.is_local = local_nodes_filter(run.shards, run.settings.replication_group_id)
        gate = threading.BoundedSemaphore(MAX_PARALLEL_SHARDS)
        workers = [
            threading.Thread(target=_probe_shard_guarded, args=(run, index, shard, is_local, gate), daemon=True)
            for index, shard in enumerate(run.shards)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=max(0.0, run.deadline - run.monotonic()))
        _close_quietly(run.take_entry(None))
    except BaseException as error:  # classified by the caller; nothing escapes a probe
        run.error = error
    finally:
        run.done.set()


def _discover(client: ClusterRedisLike, tls: bool) -> list[Shard]:
    try:
        shards = parse_cluster_shards(client.execute_command("CLUSTER", "SHARDS"), tls)
    except redis.ResponseError as error:
        if "unknown" not in str(error).lower():  # "cluster support disabled" and the like: not a fallback
            raise
        return parse_cluster_slots(client.execute_command("CLUSTER", "SLOTS"))
    if any(sum(node.role == "master" for node in shard.nodes) > 1 for shard in shards):
        shards = slot_owner_first(shards, parse_cluster_slots(client.execute_command("CLUSTER", "SLOTS")))
    return shards


def slot_owner_first(shards: list[Shard], by_slots: list[Shard]) -> list[Shard]:
    """Valkey groups CLUSTER SHARDS by shard id: after a replica took its shard over while the old primary
    was down, both are listed as ``master`` (seen on valkey-server 9.1, tests/integration/test_cluster_probe.py).
    CLUSTER SLOTS names the node that owns the slots: it goes first, so it is the shard's ``primary``."""
    owners = {low: shard.nodes[0].node_id for shard in by_slots for low, _ in shard.ranges if shard.nodes}
    resolved = []
    for shard in shards:
        owner = owners.get(shard.ranges[0][0])
        nodes = sorted(shard.nodes, key=lambda node: node.node_id != owner)  # stable: the owner first
        resolved.append(Shard(shard.ranges, tuple(nodes)))
    return resolved


def _probe_shard_guarded(
    run: _Run, index: int, shard: Shard, is_local: Callable[[ClusterNode], bool], gate: threading.BoundedSemaphore
) -> None:
    with gate:
        started = run.monotonic()
        if run.monotonic() >= run.deadline:
            return
        try:
            report = _probe_shard(run, index, shard, is_local)
        except BaseException as error:
            status = classify_cluster_error(error)
            report = ShardReport(
                shard.label,
                _target_name(shard, is_local),
                status,
                _role_of(status),
                run.shard_stage.get(index, "connect"),
                detail=f"{type(error).__name__}: {error}"[:200],
            )
        report = replace(report, latency_ms=round((run.monotonic() - started) * 1000.0, 2))
        with run.lock:
            run.reports[index] = report


def _target_name(shard: Shard, is_local: Callable[[ClusterNode], bool]) -> str:
    target = _target(shard, is_local)[0]
    return target.name if target else "-"


def _target(shard: Shard, is_local: Callable[[ClusterNode], bool]) -> tuple[ClusterNode | None, bool]:
    """(the node to probe, whether the shard's writer is in this group)."""
    primary = shard.primary
    if primary is not None and is_local(primary):
        return (primary if primary.health != "failed" else None), True  # "loading" answers LOADING itself
    if primary is None:
        return None, True
    # The shard's writer is outside this group: probe this group's most advanced replica of it.
    local = sorted(
        (node for node in shard.nodes if is_local(node) and node.health != "failed"),
        key=lambda node: -node.replication_offset,
    )
    return (local[0] if local else None), False


def _probe_shard(run: _Run, index: int, shard: Shard, is_local: Callable[[ClusterNode], bool]) -> ShardReport:
    settings, clock = run.settings, run.clock
    target, writer_here = _target(shard, is_local)
    key = heartbeat_key(settings.heartbeat_key_prefix, shard)
    if target is None:
        failed = ", ".join(f"{n.name} {n.health}" for n in shard.nodes if is_local(n)) or "no node of this group"
        where = "no primary online" if writer_here else "no replica of the writer online"
        return ShardReport(shard.label, "-", SHARD_WITHOUT_PRIMARY, "unknown", "discover", detail=f"{where}: {failed}")
    report = partial = ShardReport(shard.label, target.name, TIMEOUT, "unknown", "connect")
    run.shard_stage[index] = "connect"
    reused = run.take_entry(target)
    client = reused or run.open(target)
    try:
        if reused is None:
            client.ping()
        run.shard_stage[index] = "write"
        beat = Heartbeat(settings.region, clock(), secrets.token_hex(8), settings.replication_group_id)
        node_by_address = {node.address: node for s in run.shards for node in s.nodes}
        redirects = 0
        asking = False
        while True:
            try:
                if asking:
                    client.execute_command("ASKING")
                client.set(key, beat.encode(), ex=settings.heartbeat_ttl_seconds)
                break
            except redis.exceptions.AskError as redirect:  # MovedError is a subclass
                moved_to = node_by_address.get(f"{redirect.host}:{redirect.port}")
                if moved_to is not None and not is_local(moved_to):
                    why = f"MOVED to {moved_to.name}"
                    return _replica_report(run, index, shard, target=target, client=client, key=key, why=why)
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    return replace(
                        partial, status=REDIRECT_LOOP, role="writer", stage="write", detail=f"{redirect}"[:200]
                    )
                target = moved_to or replace(target, endpoint=redirect.host, port=int(redirect.port))
                asking = not isinstance(redirect, redis.exceptions.MovedError)
                _close_quietly(client)
                client = run.open(target)
                client.ping()
            except redis.ReadOnlyError:
                return _replica_report(run, index, shard, target=target, client=client, key=key, why="READONLY")
        run.shard_stage[index] = "read"
        if asking:  # ASKING holds for one command: the read-back needs it again
            client.execute_command("ASKING")
        echoed = client.get(key)
        if echoed != beat.encode():
            detail = f"wrote nonce {beat.nonce}, read back {echoed!r:.60}"
            return ShardReport(shard.label, target.name, VALUE_MISMATCH, "writer", "read", detail=detail)
        report = ShardReport(
            shard.label, target.name, HEALTHY, "writer", "read", heartbeat_age_s=0.0, heartbeat_region=settings.region
        )
    finally:
        _close_quietly(client)
    return report


def _replica_report(
    run: _Run, index: int, shard: Shard, *, target: ClusterNode, client: ClusterRedisLike, key: str, why: str
) -> ShardReport:
    """This shard is a replica of a writer elsewhere: read the replicated heartbeat, then the link."""
    run.shard_stage[index] = "replica_read"
    with contextlib.suppress(redis.ResponseError):
        client.execute_command("READONLY")  # a cluster replica serves reads only to a connection in READONLY mode
    raw = client.get(key)
    now = run.clock()
    beat = Heartbeat.decode(raw)
    report = ShardReport(shard.label, target.name, READ_ONLY, "replica", "replica_read", detail=why)
    if beat is None:
        missing = "no heartbeat key on the replica" if raw is None else "heartbeat value does not parse"
        report = replace(report, detail=f"{why}; {missing}")
    else:
        age = round(max(0.0, now - beat.ts), 3)
        report = replace(report, heartbeat_age_s=age, heartbeat_region=beat.region)
    try:
        info = client.info("replication")
    except Exception as error:  # a replica that answered GET stays read_only whatever INFO does
        return replace(report, detail=f"{report.detail}; INFO replication failed: {type(error).__name__}")
    if isinstance(info, dict):
        status = info.get("master_link_status")
        last_io = _number(info.get("master_last_io_seconds_ago"))
        report = replace(
            report,
            replication_link=status if status in (LINK_UP, LINK_DOWN) else None,
            link_last_io_s=last_io if last_io is not None and last_io >= 0 else None,
        )
    return report


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def classify_cluster_error(error: BaseException) -> str:
    """The cluster replies first (CLUSTERDOWN, MOVED/ASK, TRYAGAIN), then the single-group vocabulary."""
    if isinstance(error, redis.exceptions.MasterDownError):
        return "write_rejected"
    if isinstance(error, redis.exceptions.ClusterDownError):
        return CLUSTER_DOWN
    if isinstance(error, redis.exceptions.TryAgainError):
        return TRY_AGAIN
    if isinstance(error, redis.exceptions.AskError):  # and MovedError, its subclass
        return REDIRECT_LOOP
    if isinstance(error, redis.ResponseError) and "cluster support disabled" in str(error):
        return NOT_A_CLUSTER
    return classify_error(error)


def _role_of(status: str) -> str:
    if status in (HEALTHY, "oom", "write_rejected", VALUE_MISMATCH, REDIRECT_LOOP, TRY_AGAIN):
        return "writer"
    return "replica" if status == READ_ONLY else "unknown"


# ---------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------
def _summarize(
    run: _Run, reports: dict[int, ShardReport], finished: bool, latency_ms: float, checked_at: float
) -> ClusterProbeResult:
    settings = run.settings
    shards = list(run.shards)
    if not shards:  # failed before the topology was known: one status for the whole probe
        if run.error is None:
            status, detail = (
                TIMEOUT,
                f"no answer within {settings.timeout_seconds:g}s budget (stage {run.stage})",
            )
        else:
            status = SECRET_UNAVAILABLE if run.stage == "auth_secret" else classify_cluster_error(run.error)
            detail = f"{type(run.error).__name__}: {run.error}"[:300]
        return _result(run, status, _role_of(status), latency_ms, checked_at, detail=detail, stage=run.stage)

    full: list[ShardReport] = []
    for index, shard in enumerate(shards):
        report = reports.get(index)
        if report is None:  # still running (or never started) when the budget ran out
            stage = run.shard_stage.get(index, "queued")
            detail = f"no answer within {settings.timeout_seconds:g}s budget (stage {stage})"
            name = _target_name(shard, run.is_local)
            report = ShardReport(shard.label, name, TIMEOUT, "unknown", stage, detail=detail)
        full.append(report)
    gaps = uncovered_ranges(shards)
    ages = [report.heartbeat_age_s for report in full if report.heartbeat_age_s is not None]
    oldest = max(ages) if ages else None
    status = _overall_status({report.status for report in full}, bool(gaps))
    roles = {report.role for report in full}
    role = "writer" if roles == {"writer"} else "replica" if roles == {"replica"} else "unknown"
    link, last_io = _link_vote(full) if "replica" in roles else (None, None)
    worst = max(
        (report for report in full if report.heartbeat_age_s is not None),
        key=lambda report: report.heartbeat_age_s or 0.0,
        default=None,
    )
    problems = [
        f"{r.slots} ({r.node}): {r.status}" + (f" {r.detail}" if r.detail else "")
        for r in full
        if r.status not in (HEALTHY, READ_ONLY)
    ]
    if gaps:
        problems.insert(0, "slots served by no shard: " + ",".join(f"{low}-{high}" for low, high in gaps))
    summary = f"{len(full)} shards"
    if status == READ_ONLY and worst is not None:
        summary += f"; oldest heartbeat {worst.heartbeat_age_s:g}s on {worst.slots} ({worst.node})"
    detail = "; ".join([summary, *problems])[:600]
    return replace(
        _result(
            run,
            status,
            role,
            latency_ms,
            checked_at,
            detail=detail,
            stage=run.stage if finished else "shards",
            heartbeat_age_s=0.0 if status == HEALTHY else oldest,
            heartbeat_region=settings.region if status == HEALTHY else (worst.heartbeat_region if worst else None),
            replication_link=link,
            link_last_io_s=last_io,
        ),
        shard_count=len(full),
        shards=tuple(full),
    )


def _overall_status(statuses: set[str], gaps: bool) -> str:
    if gaps:
        return SLOTS_UNCOVERED
    if statuses == {HEALTHY}:
        return HEALTHY
    if statuses == {READ_ONLY}:
        return READ_ONLY
    if statuses == {HEALTHY, READ_ONLY}:
        return MIXED_ROLES
    return next((word for word in _FAILURE_ORDER if word in statuses), "error")


def _link_vote(reports: list[ShardReport]) -> tuple[str | None, float | None]:
    """Up when any shard's link is up and recent (the writer region is alive); else down or unknown."""
    recent = [
        r.link_last_io_s
        for r in reports
        if r.replication_link == LINK_UP
        and r.link_last_io_s is not None
        and 0 <= r.link_last_io_s <= REPLICATION_LINK_MAX_IO_AGE_S
    ]
    if recent:
        return LINK_UP, min(recent)
    links = [r.replication_link for r in reports if r.replication_link is not None]
    if LINK_UP in links:  # up but silent: report it as such, the vote property says 0
        ios = [r.link_last_io_s for r in reports if r.replication_link == LINK_UP and r.link_last_io_s is not None]
        return LINK_UP, (min(ios) if ios else None)
    return (LINK_DOWN, None) if links else (None, None)


def _result(
    run: _Run,
    status: str,
    role: str,
    latency_ms: float,
    checked_at: float,
    *,
    detail: str,
    stage: str,
    heartbeat_age_s: float | None = None,
    heartbeat_region: str | None = None,
    replication_link: str | None = None,
    link_last_io_s: float | None = None,
) -> ClusterProbeResult:
    return ClusterProbeResult(
        healthy=1 if status == HEALTHY else 0,
        status=status,
        role=role,
        latency_ms=latency_ms,
        region=run.settings.region,
        replication_group_id=run.settings.replication_group_id,
        reachable=1 if run.shards or status in _ANSWERED else 0,  # the endpoint answered CLUSTER SHARDS
        stage=stage,
        heartbeat_age_s=heartbeat_age_s,
        heartbeat_region=heartbeat_region,
        replication_link=replication_link,
        link_last_io_s=link_last_io_s,
        detail=detail,
        checked_at=round(checked_at, 3),
    )


def _close_quietly(client: RedisLike | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):
        client.close()
