"""gds_client: a redis-py client that follows the writer of a Global Datastore behind ``redis.internal``.

    from gds_client import ClientSettings, connect
    client = connect(ClientSettings.from_env())   # connect_cluster(...) for a cluster-mode-enabled datastore
    client.set("key", "value")

See docs/clients.md for the settings, the retry and READONLY behaviour, and what an application sees
during a failover.
"""

from gds_client.client import FollowWriterRedis, Resolver, Target, connect, dns_resolver
from gds_client.cluster import FollowWriterCluster, connect_cluster
from gds_client.settings import ClientSettings, SettingsError

__all__ = [
    "ClientSettings",
    "FollowWriterCluster",
    "FollowWriterRedis",
    "Resolver",
    "SettingsError",
    "Target",
    "connect",
    "connect_cluster",
    "dns_resolver",
]
