"""Domain package for ElastiCache Global Datastore failover.

Shared by every Lambda function through the SAM layer. AWS and Redis are only touched by the
adapter modules (``redis_probe``, ``secrets``, ``elasticache``, ``route53``, ``cloudwatch``,
``ledger``); everything else is plain Python that unit tests can drive directly.
"""

__version__ = "0.1.0"
