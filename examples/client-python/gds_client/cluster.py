"""gds_client for a cluster-mode-enabled (sharded) Global Datastore: a ``RedisCluster`` behind ``redis.internal``.

``redis.internal`` is then a failover CNAME to the writer region's **configuration endpoint**
(``clustercfg.<group>.<id>.<region>.cache.amazonaws.com``). What changes from the single-group client:

* the only startup node is ``redis.internal`` itself, with ``dynamic_startup_nodes=False`` (the maintainer's
  advice in redis/redis-py #3310 for a stable name): every topology refresh asks the name again, so after a
  promotion it reaches the new writer region's configuration endpoint;
* every connection resolves its host on connect (``redis.internal`` through the CNAME chain; a node name from
  ``CLUSTER SLOTS`` to itself) and verifies TLS against the canonical name at the end of the chain;
* MOVED and ASK are followed by ``RedisCluster`` itself; connection errors and timeouts are retried
  ``retries`` times with exponential backoff, each one refreshing the topology (redis-py);
* ``READONLY`` (the old writer region's primaries after a promotion, or a name that still points at the
  region being promoted) refreshes the topology through ``redis.internal`` and retries, at most
  ``readonly_retries`` times, then reaches the caller;
* no reachable node at all (redis-py's ``RedisClusterException``) reaches the caller as ``redis.ConnectionError``.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Any, ClassVar

import redis
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.connection import Connection, SSLConnection
from redis.retry import Retry

from gds_client.client import Resolver, Target, dns_resolver
from gds_client.settings import ClientSettings

logger = logging.getLogger("gds_client")


class _ClusterResolving:
    """Connect to what the host resolves to; TLS verifies the canonical name, not the host."""

    resolver: ClassVar[Resolver]
    on_target: ClassVar[Callable[[str, Target], None]]
    host: str
    port: int
    socket_connect_timeout: float | None
    socket_timeout: float | None

    def _resolved_socket(self) -> tuple[socket.socket, Target]:
        target = type(self).resolver(self.host)
        type(self).on_target(self.host, target)
        sock = socket.create_connection((target.address, target.port or self.port), timeout=self.socket_connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return sock, target


class ClusterConnection(_ClusterResolving, Connection):
    def _connect(self) -> socket.socket:
        sock, _ = self._resolved_socket()
        sock.settimeout(self.socket_timeout)
        return sock


class ClusterSSLConnection(_ClusterResolving, SSLConnection):
    def _connect(self) -> socket.socket:
        sock, target = self._resolved_socket()
        # The host stays what RedisCluster knows the node by (it maps connections to nodes by host:port);
        # only the TLS handshake sees the canonical name.
        host = self._host
        self._host = target.canonical_name
        try:
            wrapped: socket.socket = self._wrap_socket_with_ssl(sock)  # type: ignore[no-untyped-call]
        except (OSError, redis.RedisError):
            sock.close()
            raise
        finally:
            self._host = host
        wrapped.settimeout(self.socket_timeout)
        return wrapped


class FollowWriterCluster(RedisCluster):
    """A ``RedisCluster`` whose commands survive a promotion of the Global Datastore (see module doc)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._backoff = ExponentialBackoff(cap=settings.backoff_cap_s, base=settings.backoff_base_s)
        self.targets_by_host: dict[str, Target] = {}
        base = ClusterSSLConnection if settings.tls else ClusterConnection
        attributes = {"resolver": staticmethod(resolver or dns_resolver()), "on_target": staticmethod(self._seen)}
        connection_class = type(f"Resolving{base.__name__}", (base,), attributes)
        options: dict[str, Any] = {
            "connection_class": connection_class,
            "username": settings.username,
            "password": settings.password,
            "socket_connect_timeout": settings.connect_timeout_s,
            "socket_timeout": settings.socket_timeout_s,
            "max_connections": settings.max_connections,
            "decode_responses": True,
        }
        if settings.tls:
            options |= {"ssl_ca_certs": settings.ca_file, "ssl_check_hostname": True, "ssl_cert_reqs": "required"}
        # A URL (always redis://: TLS comes from connection_class) makes RedisCluster build every node's pool
        # with our connection_class; host and port alone would build plain redis.Redis nodes.
        super().__init__(
            url=f"redis://{settings.host}:{settings.port}",
            dynamic_startup_nodes=False,
            retry=Retry(self._backoff, settings.retries),
            **options,
        )

    def _seen(self, host: str, target: Target) -> None:
        if self.targets_by_host.get(host) != target:
            logger.info("%s resolves to %s (%s); connecting there", host, target.canonical_name, target.address)
        self.targets_by_host[host] = target

    @property
    def last_target(self) -> Target | None:
        """Where ``redis.internal`` (the configured host) resolved to on the latest topology refresh."""
        return self.targets_by_host.get(self.settings.host)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        failures = 0
        while True:
            try:
                return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]
            except redis.exceptions.RedisClusterException as error:
                # "Redis Cluster cannot be connected" (no startup node answered the topology refresh) is not a
                # RedisError in redis-py: hand it over as the ConnectionError it is, like the single-group client.
                raise redis.ConnectionError(str(error)) from error
            except redis.ReadOnlyError:
                failures += 1
                if failures > self.settings.readonly_retries:
                    raise
                logger.warning(
                    "READONLY: the writer moved; refreshing the cluster topology through %s (retry %d of %d)",
                    self.settings.host,
                    failures,
                    self.settings.readonly_retries,
                )
                self._sleep(self._backoff.compute(failures))
                self._refresh_topology()

    def _refresh_topology(self) -> None:
        """Forget every node's connections and ask ``redis.internal`` for the topology again."""
        for node in list(self.nodes_manager.nodes_cache.values()):
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
        for node in self.nodes_manager.startup_nodes.values():
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()
        self.nodes_manager.initialize()


def connect_cluster(settings: ClientSettings, *, resolver: Resolver | None = None) -> FollowWriterCluster:
    """The cluster client for ``settings`` (connects to ``redis.internal`` to learn the topology)."""
    return FollowWriterCluster(settings, resolver=resolver)
