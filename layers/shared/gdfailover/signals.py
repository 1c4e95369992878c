"""Metric names and dimensions: the contract between the probe, the alarms and the promoter.

Alarms and the Route 53 health check match these names and dimensions exactly, so they are
defined once here (and in template.yaml, which tests/template checks against this module).
HealthCheckStatus is standard resolution: Route 53 CLOUDWATCH_METRIC health checks cannot use
high-resolution alarms. Reachable, HeartbeatAge and ReplicationLinkUp are high resolution (1 s storage,
same price per metric): the promotion trigger alarm is a 10-second-evaluated alarm on HeartbeatAge, and
the promoter reads the last probes one by one (per-minute reads still work on them).
"""

from __future__ import annotations

from typing import Any, Protocol

from gdfailover.probe import ProbeResult
from gdfailover.witness import HEALTHY

DEFAULT_NAMESPACE = "Custom/Redis"

HEALTH_CHECK_STATUS = "HealthCheckStatus"  # 1 = this region's Redis is a healthy writer
REACHABLE = "Reachable"  # 1 = the server answered at the Redis protocol level
PROBE_LATENCY = "ProbeLatency"  # milliseconds for the whole probe
HEARTBEAT_AGE = "HeartbeatAge"  # seconds since the writer's last heartbeat, as seen here
REPLICATION_LINK_UP = "ReplicationLinkUp"  # replicas only: 1 = link to the writer up, recent I/O
PROMOTION_DECISION = "PromotionDecision"  # 1 per promoter run, dimension Decision
WRITER_WITNESS = "WriterWitness"  # replicas only: 1 = Route 53's witness says the writer is healthy, 0 = not

DIM_REPLICATION_GROUP = "ReplicationGroupId"
DIM_SERVICE = "service"  # added by Powertools from POWERTOOLS_SERVICE_NAME
DIM_DECISION = "Decision"

#: Published with StorageResolution 1; everything else (HealthCheckStatus above all) with 60.
HIGH_RESOLUTION_METRICS = frozenset({REACHABLE, HEARTBEAT_AGE, REPLICATION_LINK_UP, WRITER_WITNESS})


class MetricsSink(Protocol):
    """What Powertools ``Metrics`` offers; lets unit tests use a recorder."""

    def add_dimension(self, name: str, value: str) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = ...) -> None: ...


def record_probe(metrics: MetricsSink, result: ProbeResult, include_health: bool = True) -> None:
    """Add the probe's metrics to the current EMF blob (flushed by ``@metrics.log_metrics``).

    ``include_health`` is False when HealthCheckStatus goes through PutMetricData instead
    (HEALTH_METRIC_PUBLISHER=api), so the alarm never sees the same datapoint twice.
    """
    from aws_lambda_powertools.metrics import MetricResolution, MetricUnit

    def add(name: str, unit: MetricUnit, value: float) -> None:
        high = name in HIGH_RESOLUTION_METRICS
        resolution = MetricResolution.High if high else MetricResolution.Standard
        metrics.add_metric(name=name, unit=unit, value=value, resolution=resolution)

    metrics.add_dimension(name=DIM_REPLICATION_GROUP, value=result.replication_group_id)
    if include_health:
        add(HEALTH_CHECK_STATUS, MetricUnit.Count, result.healthy)
    add(REACHABLE, MetricUnit.Count, result.reachable)
    add(PROBE_LATENCY, MetricUnit.Milliseconds, result.latency_ms)
    if result.heartbeat_age_s is not None:
        add(HEARTBEAT_AGE, MetricUnit.Seconds, result.heartbeat_age_s)
    if (link_up := result.replication_link_up) is not None:
        add(REPLICATION_LINK_UP, MetricUnit.Count, link_up)
    if result.writer_witness is not None:
        add(WRITER_WITNESS, MetricUnit.Count, 1.0 if result.writer_witness == HEALTHY else 0.0)


def put_health_metric(cloudwatch: Any, namespace: str, service: str, result: ProbeResult) -> None:
    """Publish HealthCheckStatus with PutMetricData (same name, dimensions and resolution as EMF).

    Use when EMF's log-extraction delay matters: the datapoint is in CloudWatch when the call
    returns. Needs the ``monitoring`` interface endpoint or a NAT from the probe's subnets.
    """
    put_health_datapoint(cloudwatch, namespace, service, result.replication_group_id, float(result.healthy))


def put_health_datapoint(
    cloudwatch: Any, namespace: str, service: str, replication_group_id: str, value: float
) -> None:
    """One HealthCheckStatus datapoint, exactly as the probe publishes it (the writer alarm's metric).

    The promoter and the switchover publish a 1 for the region they are promoting once ElastiCache has
    accepted the failover: the writer alarm (Maximum over the minute) then turns OK at its next
    evaluation, so Route 53 can move ``redis.internal`` while the promotion completes.
    """
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": HEALTH_CHECK_STATUS,
                "Dimensions": [
                    {"Name": DIM_SERVICE, "Value": service},
                    {"Name": DIM_REPLICATION_GROUP, "Value": replication_group_id},
                ],
                "Value": value,
                "Unit": "Count",
                "StorageResolution": 60,
            }
        ],
    )
