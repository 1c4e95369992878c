"""CloudWatch reads: this region's probe metrics and an alarm's state (possibly in the peer region)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from gdfailover.awscall import call
from gdfailover.signals import (
    DIM_REPLICATION_GROUP,
    DIM_SERVICE,
    HEARTBEAT_AGE,
    REACHABLE,
    REPLICATION_LINK_UP,
    WRITER_WITNESS,
    put_health_datapoint,
)

Point = tuple[datetime, float]


#: Bucket of the per-probe reads: shorter than any probe cadence, so each bucket holds at most one probe.
RECENT_PERIOD_SECONDS = 5


@dataclass(frozen=True, slots=True)
class ProbeSeries:
    """Probe metrics of one replication group, oldest first: per minute, and per probe (``recent_*``,
    5-second buckets of the high-resolution metrics)."""

    reachable: tuple[Point, ...]  # Maximum: 1 when at least one probe that minute got an answer
    heartbeat_age: tuple[Point, ...]  # Maximum seconds since the writer's last heartbeat
    # Minimum: 1 only when every probe that minute found this replica's link to the writer up and busy
    replication_link_up: tuple[Point, ...] = ()
    recent_reachable: tuple[Point, ...] = ()
    recent_heartbeat_age: tuple[Point, ...] = ()
    recent_replication_link_up: tuple[Point, ...] = ()
    #: Minimum per probe: 1 when Route 53's witness said the writer is healthy, 0 unhealthy (replicas only)
    recent_writer_witness: tuple[Point, ...] = ()


@dataclass(frozen=True, slots=True)
class AlarmState:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA | MISSING (no such alarm)
    updated: datetime | None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "updated": self.updated.isoformat() if self.updated else None,
            "reason": self.reason[:200],
        }


class ProbeMetrics:
    """Reads the probe's metrics (namespace and dimensions as published by :mod:`gdfailover.signals`)."""

    def __init__(self, client: Any, namespace: str, service: str) -> None:
        self._client = client
        self._namespace = namespace
        self._service = service

    def series(self, replication_group_id: str, end: datetime, lookback: timedelta) -> ProbeSeries:
        dimensions = [
            {"Name": DIM_SERVICE, "Value": self._service},
            {"Name": DIM_REPLICATION_GROUP, "Value": replication_group_id},
        ]
        queries = [
            {
                "Id": f"{prefix}{query_id}",
                "MetricStat": {
                    "Metric": {"Namespace": self._namespace, "MetricName": name, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": stat,
                },
                "ReturnData": True,
            }
            for prefix, period in (("", 60), ("recent_", RECENT_PERIOD_SECONDS))
            for query_id, name, stat in (
                ("reachable", REACHABLE, "Maximum"),
                ("heartbeat_age", HEARTBEAT_AGE, "Maximum"),
                ("replication_link_up", REPLICATION_LINK_UP, "Minimum"),
                ("writer_witness", WRITER_WITNESS, "Minimum"),
            )
        ]
        response = call(
            "GetMetricData",
            self._client.get_metric_data,
            MetricDataQueries=queries,
            StartTime=end - lookback,
            EndTime=end,
            ScanBy="TimestampAscending",
        )
        by_id: dict[str, tuple[Point, ...]] = {str(query["Id"]): () for query in queries}
        for result in response.get("MetricDataResults") or []:
            points = sorted(zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False))
            by_id[str(result.get("Id"))] = tuple((stamp, float(value)) for stamp, value in points)
        return ProbeSeries(
            reachable=by_id["reachable"],
            heartbeat_age=by_id["heartbeat_age"],
            replication_link_up=by_id["replication_link_up"],
            recent_reachable=by_id["recent_reachable"],
            recent_heartbeat_age=by_id["recent_heartbeat_age"],
            recent_replication_link_up=by_id["recent_replication_link_up"],
            recent_writer_witness=by_id["recent_writer_witness"],
        )


class Alarms:
    def __init__(self, client: Any) -> None:
        self._client = client

    def state(self, alarm_name: str) -> AlarmState:
        response = call(
            "DescribeAlarms",
            self._client.describe_alarms,
            AlarmNames=[alarm_name],
            AlarmTypes=["MetricAlarm"],
        )
        alarms = response.get("MetricAlarms") or []
        if not alarms:
            return AlarmState(alarm_name, "MISSING", None, "no such alarm")
        alarm = alarms[0]
        return AlarmState(
            name=alarm_name,
            state=str(alarm.get("StateValue", "INSUFFICIENT_DATA")),
            updated=alarm.get("StateUpdatedTimestamp"),
            reason=str(alarm.get("StateReason", "")),
        )


class WriterHealthPublisher(Protocol):
    def promoting(self, replication_group_id: str) -> None: ...


class WriterHealth:
    """Publishes a HealthCheckStatus 1 for a replication group ElastiCache is promoting (see
    :func:`gdfailover.signals.put_health_datapoint`). Raises AwsCallError on failure."""

    def __init__(self, client: Any, namespace: str, service: str) -> None:
        self._client = client
        self._namespace = namespace
        self._service = service

    def promoting(self, replication_group_id: str) -> None:
        call(
            "PutMetricData",
            put_health_datapoint,
            cloudwatch=self._client,
            namespace=self._namespace,
            service=self._service,
            replication_group_id=replication_group_id,
            value=1.0,
        )
