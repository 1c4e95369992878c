"""A redis-py client that follows the writer of a Global Datastore behind one DNS name.

``redis.internal`` is a Route 53 failover CNAME to the writer's canonical ElastiCache endpoint
(``master.<group>.<id>.<region>.cache.amazonaws.com``). Three things make a client follow it:

* resolve the name on every (re)connect, following the CNAME chain to the canonical endpoint, and
  verify TLS against that canonical name: the certificate names ``*.cache.amazonaws.com``, never
  ``redis.internal`` (nor a Kubernetes ExternalName Service);
* retry connection errors and timeouts a bounded number of times with exponential backoff (redis-py
  ``Retry``): every retry reconnects, so it re-resolves;
* treat ``READONLY`` (the old writer came back as a replica, or DNS still names the replica being
  promoted) as "the writer moved": disconnect the whole pool, re-resolve, retry, bounded.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.resolver
import redis
from redis.backoff import ExponentialBackoff
from redis.connection import Connection, ConnectionPool, SSLConnection
from redis.retry import Retry

from gds_client.settings import ClientSettings

logger = logging.getLogger("gds_client")
logger.addHandler(logging.NullHandler())  # a library: the application decides where log records go


@dataclass(frozen=True)
class Target:
    """Where a name leads: the canonical name (what TLS verifies) and an address to connect to."""

    canonical_name: str
    address: str
    #: None: the configured port. An injected resolver may name one (the local drill's servers
    #: listen on one loopback port each).
    port: int | None = None


Resolver = Callable[[str], Target]


def dns_resolver(nameservers: list[str] | None = None, port: int = 53, lifetime_s: float = 1.0) -> Resolver:
    """Resolve with dnspython, following the CNAME chain (``Answer.canonical_name``), no cache.

    The system's resolver settings by default (``/etc/resolv.conf``, search domains included, so a
    Kubernetes short Service name works); ``nameservers``/``port`` point it elsewhere (tests). A name
    that does not resolve is a ``redis.ConnectionError``, retried like any other connection failure.
    """
    resolver = dns.resolver.Resolver(configure=nameservers is None)
    if nameservers is not None:
        resolver.nameservers = nameservers
        resolver.port = port
    resolver.lifetime = lifetime_s

    def resolve(name: str) -> Target:
        try:
            answer = resolver.resolve(name, "A", search=True)
        except dns.exception.DNSException as error:
            raise redis.ConnectionError(f"cannot resolve {name}: {error}") from None
        canonical = answer.canonical_name.to_text(omit_final_dot=True)
        return Target(canonical, answer[0].to_text())

    return resolve


@dataclass
class _PoolState:
    """Shared by the pool's connections: how to resolve, and what the last connect resolved to."""

    name: str
    resolve: Resolver
    last_target: Target | None = None
    history: list[Target] = field(default_factory=list)

    def next_target(self) -> Target:
        target = self.resolve(self.name)
        if target != self.last_target:
            logger.info("%s resolves to %s (%s); connecting there", self.name, target.canonical_name, target.address)
            self.history.append(target)
        self.last_target = target
        return target


class _ResolvingMixin:
    """Resolve on every (re)connect; connect to the address, present the canonical name to TLS."""

    _state: _PoolState
    _host: str
    port: int
    socket_connect_timeout: float | None
    socket_timeout: float | None

    def _open_socket(self) -> socket.socket:
        target = self._state.next_target()
        self._host = target.canonical_name  # SSLConnection verifies the certificate against self.host
        port = target.port or self.port
        sock = socket.create_connection((target.address, port), timeout=self.socket_connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock  # still on the connect timeout: it bounds the TLS handshake too


class FollowWriterConnection(_ResolvingMixin, Connection):
    def __init__(self, *, pool_state: _PoolState, **kwargs: Any) -> None:
        self._state = pool_state
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    def _connect(self) -> socket.socket:
        sock = self._open_socket()
        sock.settimeout(self.socket_timeout)
        return sock


class FollowWriterSSLConnection(_ResolvingMixin, SSLConnection):
    def __init__(self, *, pool_state: _PoolState, **kwargs: Any) -> None:
        self._state = pool_state
        super().__init__(**kwargs)

    def _connect(self) -> socket.socket:
        sock = self._open_socket()
        try:
            wrapped: socket.socket = self._wrap_socket_with_ssl(sock)  # type: ignore[no-untyped-call]
        except (OSError, redis.RedisError):
            sock.close()
            raise
        wrapped.settimeout(self.socket_timeout)
        return wrapped


class FollowWriterRedis(redis.Redis):
    """A ``redis.Redis`` whose commands survive a failover of the name it was given (see module doc).

    Pipelines and transactions get the reconnect and re-resolve on connection errors, but a READONLY
    inside one reaches the caller (replaying a MULTI/EXEC is the application's decision).
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._state = _PoolState(settings.host, resolver or dns_resolver())
        self._backoff = ExponentialBackoff(cap=settings.backoff_cap_s, base=settings.backoff_base_s)
        self._sleep = sleep
        options: dict[str, Any] = {
            "connection_class": FollowWriterSSLConnection if settings.tls else FollowWriterConnection,
            "pool_state": self._state,
            "host": settings.host,
            "port": settings.port,
            "username": settings.username,
            "password": settings.password,
            "socket_connect_timeout": settings.connect_timeout_s,
            "socket_timeout": settings.socket_timeout_s,
            "retry": Retry(self._backoff, settings.retries),
            "max_connections": settings.max_connections,
            "decode_responses": True,
        }
        if settings.tls:
            options |= {"ssl_ca_certs": settings.ca_file, "ssl_check_hostname": True, "ssl_cert_reqs": "required"}
        super().__init__(connection_pool=ConnectionPool(**options))

    @property
    def last_target(self) -> Target | None:
        """The endpoint the latest (re)connect resolved to."""
        return self._state.last_target

    @property
    def targets_seen(self) -> list[Target]:
        """Every change of resolved endpoint, oldest first."""
        return list(self._state.history)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        failures = 0
        while True:
            try:
                return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            except redis.ReadOnlyError:
                failures += 1
                if failures > self.settings.readonly_retries:
                    raise
                where = self._state.last_target.canonical_name if self._state.last_target else "?"
                logger.warning(
                    "READONLY from %s: the writer moved; dropping the pool and re-resolving %s (retry %d of %d)",
                    where,
                    self.settings.host,
                    failures,
                    self.settings.readonly_retries,
                )
                self.connection_pool.disconnect()
                self._sleep(self._backoff.compute(failures))


def connect(settings: ClientSettings, *, resolver: Resolver | None = None) -> FollowWriterRedis:
    """The client for ``settings`` (no I/O until the first command)."""
    return FollowWriterRedis(settings, resolver=resolver)
