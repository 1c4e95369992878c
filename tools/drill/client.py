"""The drill's application: the example client (gds_client) writing through ``redis.internal``.

Every CLIENT_INTERVAL_S of emulated time it writes a numbered key and reads it back. Everything a
failover needs is gds_client's own behaviour, unchanged: every (re)connect resolves ``redis.internal``
(here through the emulated Route 53 answer, cached for the record's TTL as a stub resolver does) to the
canonical endpoint name, TLS is verified against that name (each region's drill certificate carries
its emulated ElastiCache endpoint name), connection errors and timeouts are retried, READONLY drops the
pool and re-resolves. Only the numbers differ (see DRILL_SETTINGS): a retry inside one write costs
wall time but no emulated time, and the next tick is the next try anyway.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from gds_client import ClientSettings, FollowWriterRedis, Target, connect
from tools.drill.sim import Simulation

CLIENT_INTERVAL_S = 1.0
#: Wall-clock socket timeouts: a stopped (SIGSTOP) server costs this much real time per attempt; too
#: short and a busy machine shows outages that did not happen.
CLIENT_SOCKET_TIMEOUT_S = 0.5
RECORD_NAME = "redis.internal"
#: gds_client's settings for the drill: TLS with hostname verification and AUTH as in production; one
#: retry of each kind with millisecond backoff, because retries within a tick take no emulated time.
DRILL_SETTINGS = ClientSettings(
    host=RECORD_NAME,
    connect_timeout_s=CLIENT_SOCKET_TIMEOUT_S,
    socket_timeout_s=CLIENT_SOCKET_TIMEOUT_S,
    retries=1,
    readonly_retries=1,
    backoff_base_s=0.005,
    backoff_cap_s=0.02,
    max_connections=4,
)


@dataclass(frozen=True)
class Endpoint:
    name: str  # the canonical endpoint name the CNAME points at
    host: str
    port: int
    region: str


@dataclass
class Ack:
    seq: int
    at: float
    endpoint: str


@dataclass
class ClientStats:
    acks: list[Ack] = field(default_factory=list)
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (time, endpoint, error)
    outages: list[tuple[float, float | None]] = field(default_factory=list)  # (last ok, first ok after)
    resolutions: list[tuple[float, str]] = field(default_factory=list)


class DrillClient:
    def __init__(
        self,
        simulation: Simulation,
        *,
        resolve: Callable[[], Endpoint],
        ttl_s: float,
        ca_file: str,
        password: str,
        on_event: Callable[[str, str], None],
        tls: bool = True,
    ) -> None:
        self._simulation = simulation
        self._resolve_now = resolve
        self._ttl_s = ttl_s
        self._on_event = on_event
        self._cached: tuple[Endpoint, float] | None = None
        self._seq = 0
        self._failing_since: float | None = None
        self._last_ok: float | None = None
        self.stats = ClientStats()
        settings = dataclasses.replace(DRILL_SETTINGS, tls=tls, ca_file=ca_file if tls else None, password=password)
        self.redis: FollowWriterRedis = connect(settings, resolver=self._dns)

    def resolve(self) -> Endpoint:
        now = self._simulation.now
        if self._cached is None or now - self._cached[1] >= self._ttl_s:
            endpoint = self._resolve_now()
            if self._cached is None or self._cached[0] != endpoint:
                self.stats.resolutions.append((now, endpoint.name))
            self._cached = (endpoint, now)
        return self._cached[0]

    def _dns(self, name: str) -> Target:
        """gds_client's resolver: the emulated Route 53 answer for the record (loopback, one port per region)."""
        if name != RECORD_NAME:
            raise redis.ConnectionError(f"drill DNS: no record {name}")
        endpoint = self.resolve()
        return Target(endpoint.name, endpoint.host, endpoint.port)

    def _serving(self) -> str:
        target = self.redis.last_target
        return target.canonical_name if target else "?"

    def tick(self) -> None:
        now = self._simulation.now
        self._seq += 1
        key = f"drill:write:{self._seq:06d}"
        try:
            self.redis.set(key, f"{now:.1f}")
            self.stats.acks.append(Ack(self._seq, now, self._serving()))
            if self.redis.get(key) != f"{now:.1f}":
                raise redis.ResponseError("read back a different value")
        except (redis.RedisError, OSError) as error:
            endpoint = self._serving()
            kind = "READONLY" if isinstance(error, redis.ReadOnlyError) else type(error).__name__
            self.stats.failures.append((now, endpoint, kind))
            if self._failing_since is None:
                self._failing_since = now
                self._on_event("client", f"write failed on {endpoint}: {kind} (gds_client retried; it re-resolves)")
            return
        if self._failing_since is not None:
            outage_start = self._last_ok if self._last_ok is not None else self._failing_since
            self.stats.outages.append((outage_start, now))
            self._on_event(
                "client",
                f"first successful write on {self._serving()} after {now - outage_start:.0f}s without a write",
            )
            self._failing_since = None
        self._last_ok = now

    def finish(self) -> None:
        if self._failing_since is not None:
            start = self._last_ok if self._last_ok is not None else self._failing_since
            self.stats.outages.append((start, None))
        self.redis.close()
