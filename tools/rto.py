"""make rto: how long a failover takes and what the stack costs, derived from template.yaml.

    python -m tools.rto [--config-env <samconfig env>]

Reads the template's parameter defaults plus the samconfig environment's parameter_overrides and
prints, per step of the failover chain, the typical and worst-case seconds and the total until
``redis.internal`` answers a writable node; then the monthly running cost of one regional stack.
Every constant that is not a template parameter (AWS behaviour, prices) is defined once below with
its source, and the local drill's emulation reads the same :class:`TimingModel`, so the two never
disagree.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Any

from tools.cfn import load_template, parameter_defaults, samconfig_overrides

# --- AWS behaviour the template cannot set (seconds) -------------------------------------------------
#: CloudWatch evaluates a standard-resolution alarm about once a minute, after the period closes.
ALARM_EVALUATION_INTERVAL_S = 60.0
#: EMF: metrics are extracted from the log stream with an undocumented delay; a few seconds is usual,
#: a minute has been observed. A datapoint later than the evaluation reads as missing.
EMF_DELAY_TYPICAL_S = 5.0
EMF_DELAY_WORST_S = 60.0
#: PutMetricData: the datapoint is stored when the call returns.
API_DELAY_TYPICAL_S = 1.0
API_DELAY_WORST_S = 5.0
#: Route 53 CLOUDWATCH_METRIC health checks follow the alarm's data stream; not documented, measured
#: in the tens of seconds. The failover answer then changes on Route 53's resolvers within seconds.
ROUTE53_HEALTH_LAG_TYPICAL_S = 10.0
ROUTE53_HEALTH_LAG_WORST_S = 30.0
#: Alarm state change -> SNS -> Lambda invocation.
SNS_TO_LAMBDA_TYPICAL_S = 1.0
SNS_TO_LAMBDA_WORST_S = 10.0
#: The promoter's evidence gathering (bounded botocore timeouts: 1-2 s per call, a handful of calls).
DECISION_TYPICAL_S = 2.0
DECISION_WORST_S = 15.0
#: FailoverGlobalReplicationGroup until the member is PRIMARY: "about a minute" (ElastiCache docs);
#: several minutes when the old primary region is unreachable.
PROMOTION_TYPICAL_S = 60.0
PROMOTION_WORST_S = 180.0


@dataclass(frozen=True)
class Step:
    name: str
    typical_s: float
    worst_s: float
    why: str


@dataclass(frozen=True)
class TimingModel:
    """The failover chain's timing, from the effective template parameters."""

    parameters: dict[str, str]
    probe_cadence_s: float
    probe_timeout_s: float
    writer_alarm_periods: int
    heartbeat_threshold_s: float
    trigger_alarm_periods: int
    record_ttl_s: float
    metric_publisher: str
    promotion_mode: str
    alarm_period_s: float = 60.0

    @classmethod
    def from_parameters(cls, parameters: dict[str, str]) -> TimingModel:
        def number(name: str) -> float:
            try:
                return float(parameters[name])
            except KeyError:
                raise KeyError(f"template.yaml has no default for parameter {name}") from None

        return cls(
            parameters=dict(parameters),
            probe_cadence_s=number("ProbeCadenceSeconds"),
            probe_timeout_s=number("ProbeTimeoutSeconds"),
            writer_alarm_periods=int(number("WriterAlarmEvaluationPeriods")),
            heartbeat_threshold_s=number("HeartbeatAgeThresholdSeconds"),
            trigger_alarm_periods=int(number("TriggerAlarmEvaluationPeriods")),
            record_ttl_s=number("RecordTtl"),
            metric_publisher=parameters.get("HealthMetricPublisher", "emf"),
            promotion_mode=parameters.get("PromotionMode", "auto"),
        )

    @classmethod
    def from_template(cls, config_env: str | None = None) -> TimingModel:
        parameters = parameter_defaults(load_template())
        if config_env:
            parameters.update(samconfig_overrides(config_env))
        return cls.from_parameters(parameters)

    @property
    def metric_delay_s(self) -> tuple[float, float]:
        """(typical, worst) seconds from a probe to its datapoint being visible to alarms."""
        if self.metric_publisher == "api":
            return API_DELAY_TYPICAL_S, API_DELAY_WORST_S
        return EMF_DELAY_TYPICAL_S, EMF_DELAY_WORST_S
