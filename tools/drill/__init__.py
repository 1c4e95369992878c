"""The local failover drill: real redis-servers as regions, the real Lambda handlers, AWS emulated."""
