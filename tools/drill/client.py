"""An application client of ``redis.internal``, reconnecting the way the README tells users to.

Every CLIENT_INTERVAL_S of emulated time it writes a numbered key and reads it back through one
connection. On a connection error, a timeout or READONLY it drops the connection; the next attempt
resolves ``redis.internal`` again (the cached answer is reused until its TTL expires, as a stub
resolver does) and connects to whatever it names. TLS is verified against the canonical endpoint
(here the loopback address the endpoint name stands for), not against ``redis.internal``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tools.drill.sim import Simulation

CLIENT_INTERVAL_S = 1.0
#: Wall-clock socket timeouts: a stopped (SIGSTOP) server costs this much real time per attempt; too
#: short and a busy machine shows outages that did not happen.
CLIENT_SOCKET_TIMEOUT_S = 0.5


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
    ) -> None:
        self._simulation = simulation
        self._resolve_now = resolve
        self._ttl_s = ttl_s
        self._ca_file = ca_file
        self._password = password
        self._on_event = on_event
        self._cached: tuple[Endpoint, float] | None = None
        self._connection: redis.Redis | None = None
        self._endpoint: Endpoint | None = None
        self._seq = 0
        self._failing_since: float | None = None
        self._last_ok: float | None = None
        self.stats = ClientStats()

    def resolve(self) -> Endpoint:
        now = self._simulation.now
        if self._cached is None or now - self._cached[1] >= self._ttl_s:
            endpoint = self._resolve_now()
            if self._cached is None or self._cached[0] != endpoint:
                self.stats.resolutions.append((now, endpoint.name))
            self._cached = (endpoint, now)
        return self._cached[0]

    def tick(self) -> None:
        now = self._simulation.now
        self._seq += 1
        key = f"drill:write:{self._seq:06d}"
        try:
            if self._connection is None:
                self._endpoint = self.resolve()
                self._connection = redis.Redis(
                    host=self._endpoint.host,
                    port=self._endpoint.port,
                    password=self._password,
                    ssl=True,
                    ssl_ca_certs=self._ca_file,
                    ssl_check_hostname=True,
                    socket_timeout=CLIENT_SOCKET_TIMEOUT_S,
                    socket_connect_timeout=CLIENT_SOCKET_TIMEOUT_S,
                    retry=Retry(NoBackoff(), 0),  # reconnecting is this client's own job
                    decode_responses=True,
                    single_connection_client=True,
                )
            assert self._endpoint is not None
            self._connection.set(key, f"{now:.1f}")
            self.stats.acks.append(Ack(self._seq, now, self._endpoint.name))
            if self._connection.get(key) != f"{now:.1f}":
                raise redis.ResponseError("read back a different value")
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError, OSError) as error:
            endpoint = self._endpoint.name if self._endpoint else "?"
            kind = "READONLY" if isinstance(error, redis.ReadOnlyError) else type(error).__name__
            self.stats.failures.append((now, endpoint, kind))
            if self._failing_since is None:
                self._failing_since = now
                self._on_event("client", f"write failed on {endpoint}: {kind}; reconnecting (re-resolve)")
            self._drop()
            return
        if self._failing_since is not None:
            outage_start = self._last_ok if self._last_ok is not None else self._failing_since
            self.stats.outages.append((outage_start, now))
            self._on_event(
                "client",
                f"first successful write on {self._endpoint.name} after {now - outage_start:.0f}s without a write",
            )
            self._failing_since = None
        self._last_ok = now

    def finish(self) -> None:
        if self._failing_since is not None:
            start = self._last_ok if self._last_ok is not None else self._failing_since
            self.stats.outages.append((start, None))
        self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(redis.RedisError, OSError):
                self._connection.close()
            self._connection = None
