"""Metric names and dimensions: the contract between the probe, the alarms and the promoter.

Alarms and the Route 53 health check match these names and dimensions exactly, so they are
defined once here (and in template.yaml, which tests/template checks against this module).
All probe metrics are standard resolution: Route 53 CLOUDWATCH_METRIC health checks cannot use
high-resolution alarms.
"""

from __future__ import annotations

from typing import Any, Protocol

from gdfailover.probe import ProbeResult

DEFAULT_NAMESPACE = "Custom/Redis"

HEALTH_CHECK_STATUS = "HealthCheckStatus"  # 1 = this region's Redis is a healthy writer
REACHABLE = "Reachable"  # 1 = the server answered at the Redis protocol level
PROBE_LATENCY = "ProbeLatency"  # milliseconds for the whole probe
HEARTBEAT_AGE = "HeartbeatAge"  # seconds since the writer's last heartbeat, as seen here
REPLICATION_LINK_UP = "ReplicationLinkUp"  # replicas only: 1 = link to the writer up, recent I/O
PROMOTION_DECISION = "PromotionDecision"  # 1 per promoter run, dimension Decision

DIM_REPLICATION_GROUP = "ReplicationGroupId"
DIM_SERVICE = "service"  # added by Powertools from POWERTOOLS_SERVICE_NAME
DIM_DECISION = "Decision"


class MetricsSink(Protocol):
    """What Powertools ``Metrics`` offers; lets unit tests use a recorder."""

    def add_dimension(self, name: str, value: str) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = ...) -> None: ...


def record_probe(metrics: MetricsSink, result: ProbeResult, include_health: bool = True) -> None:
    """Add the probe's metrics to the current EMF blob (flushed by ``@metrics.log_metrics``).

    ``include_health`` is False when HealthCheckStatus goes through PutMetricData instead
    (HEALTH_METRIC_PUBLISHER=api), so the alarm never sees the same datapoint twice.
    """
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_dimension(name=DIM_REPLICATION_GROUP, value=result.replication_group_id)
    if include_health:
        metrics.add_metric(name=HEALTH_CHECK_STATUS, unit=MetricUnit.Count, value=result.healthy)
    metrics.add_metric(name=REACHABLE, unit=MetricUnit.Count, value=result.reachable)
    metrics.add_metric(name=PROBE_LATENCY, unit=MetricUnit.Milliseconds, value=result.latency_ms)
    if result.heartbeat_age_s is not None:
        metrics.add_metric(name=HEARTBEAT_AGE, unit=MetricUnit.Seconds, value=result.heartbeat_age_s)
    if (link_up := result.replication_link_up) is not None:
        metrics.add_metric(name=REPLICATION_LINK_UP, unit=MetricUnit.Count, value=link_up)


def put_health_metric(cloudwatch: Any, namespace: str, service: str, result: ProbeResult) -> None:
    """Publish HealthCheckStatus with PutMetricData (same name, dimensions and resolution as EMF).

    Use when EMF's log-extraction delay matters: the datapoint is in CloudWatch when the call
    returns. Needs the ``monitoring`` interface endpoint or a NAT from the probe's subnets.
    """
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": HEALTH_CHECK_STATUS,
                "Dimensions": [
                    {"Name": DIM_SERVICE, "Value": service},
                    {"Name": DIM_REPLICATION_GROUP, "Value": result.replication_group_id},
                ],
                "Value": float(result.healthy),
                "Unit": "Count",
                "StorageResolution": 60,
            }
        ],
    )
