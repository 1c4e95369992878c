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
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdfailover.probe import REPLICATION_LINK_MAX_IO_AGE_S
from gdfailover.witness import ROUTE53_LOST_REGION_LAG_WORST_S, WITNESS_TTL_SECONDS
from tools.cfn import load_template, metric_queries, parameter_defaults, samconfig_overrides

# --- AWS behaviour the template cannot set (seconds) -------------------------------------------------
# Each constant says where its number comes from, or that it is an assumption.
#: Standard-resolution alarms are evaluated about once a minute; high-resolution ones (period 10, 20 or
#: 30 s) every 10 s (CloudWatch user guide, "Using Amazon CloudWatch alarms": "If the alarm period is 10
#: seconds or 30 seconds, the alarm is evaluated every 10 seconds").
ALARM_EVALUATION_INTERVAL_S = 60.0
HIGH_RES_EVALUATION_INTERVAL_S = 10.0
#: EMF: metrics are extracted from the log stream with an undocumented delay. Assumption: a few seconds
#: is usual, a minute has been observed. A datapoint later than the evaluation reads as missing.
EMF_DELAY_TYPICAL_S = 5.0
EMF_DELAY_WORST_S = 60.0
#: PutMetricData: the datapoint is stored when the call returns (assumption: 1 s typical, 5 s worst).
API_DELAY_TYPICAL_S = 1.0
API_DELAY_WORST_S = 5.0
#: Route 53 CLOUDWATCH_METRIC health checks follow the alarm's data stream; not documented. Assumption:
#: tens of seconds. The failover answer then changes on Route 53's resolvers within seconds.
ROUTE53_HEALTH_LAG_TYPICAL_S = 10.0
ROUTE53_HEALTH_LAG_WORST_S = 30.0
#: Alarm state change -> SNS -> Lambda invocation. Assumption (SNS publishes no latency figure).
SNS_TO_LAMBDA_TYPICAL_S = 1.0
SNS_TO_LAMBDA_WORST_S = 10.0
#: Step Functions' asynchronous (Event) Lambda invocation until the promoter runs. Assumption: 1 s
#: typical, 5 s worst (no published figure; the task returns as soon as Lambda accepts the event).
WAKEUP_TO_LAMBDA_TYPICAL_S = 1.0
WAKEUP_TO_LAMBDA_WORST_S = 5.0
#: The promoter's evidence gathering: bounded botocore timeouts (awscall.BOUNDED_CONFIG: 1-2 s per call,
#: peer calls in parallel). Worst = one round of timeouts plus one hold re-check (HOLD_RETRY_DELAY 15 s).
DECISION_TYPICAL_S = 2.0
DECISION_WORST_S = 20.0
#: FailoverGlobalReplicationGroup until the member is PRIMARY. Typical: "RTO: 1 minute" (AWS
#: disaster-recovery workshop, ElastiCache Global Datastore lab). Worst: ASSUMPTION, no public figure
#: exists for a promotion while the old primary region is unreachable; 3 minutes is our guess.
PROMOTION_TYPICAL_S = 60.0
PROMOTION_WORST_S = 180.0
#: The probe reports its replica's link down once the link carried nothing for this long (gdfailover.probe:
#: a live writer pings its replicas every 10 s, Redis's repl-ping-replica-period; ASSUMPTION that
#: ElastiCache keeps it). A writer that vanishes without closing its connections (a lost region, a hung
#: process) is told from a live one this long after it went silent; a killed one resets them at once.
LINK_SILENCE_S = float(REPLICATION_LINK_MAX_IO_AGE_S)
#: When the writer's region is lost, Route 53's checkers get no data for its alarm. ASSUMPTION (not
#: documented): the health check turns unhealthy (InsufficientDataHealthStatus: Unhealthy) after its usual
#: lag. Later would delay the outside confirmation a region-lost promotion needs (docs/promotion.md).
ROUTE53_LOST_REGION_TYPICAL_S = ROUTE53_HEALTH_LAG_TYPICAL_S
ROUTE53_LOST_REGION_WORST_S = ROUTE53_LOST_REGION_LAG_WORST_S  # the promoter's data-loss bound trusts it too
#: The witness record (gdfailover.witness): its TTL bounds how long the VPC resolver may keep a "healthy"
#: answer; the promoter reads it fresh at each evidence round (an Invoke of the in-VPC probe function).
WITNESS_TTL_S = float(WITNESS_TTL_SECONDS)
#: The last of the promoter's timed holds (in-region ceiling) ends one second after the ceiling.
CEILING_RECHECK_S = 1.0
#: Documented faster profiles, printed beside the defaults (docs/parameters.md, "Faster profiles").
PROFILES: dict[str, dict[str, str]] = {
    "15 s profile": {"ProbeCadenceSeconds": "15", "HeartbeatAgeThresholdSeconds": "40"},
}
#: The monthly cost per stack before issue 14 (15 s cadence, one dashboard per stack), for the delta.
PREVIOUS_COST_USD = 11.43


#: What ``make rto MEASURED=<report.json>`` can replace (make calibrate and make gameday write these keys
#: under ``measured``), and the assumption each one replaces.
MEASURABLE = {
    "emf_delay_s": "EMF extraction delay (assumption: 5 s typical, 60 s worst)",
    "alarm_evaluation_lag_s": "standard alarm: period end -> state change (assumption: EMF delay + 15/60 s)",
    "route53_health_lag_s": "Route 53 following the alarm's data (assumption: 10 s typical, 30 s worst)",
    "promotion_s": "FailoverGlobalReplicationGroup until PRIMARY (60 s workshop figure, 180 s worst assumption)",
    "witness_lag_s": "writer region lost -> its witness record answers unhealthy in the survivor's VPC "
    "(assumption: Route 53's lag, 10 s typical, 30 s worst, + the record's 5 s TTL)",
}


class MeasuredFileError(ValueError):
    """A MEASURED file that cannot be used: a one-line reason."""


def load_measured(path: Path) -> dict[str, tuple[float, float]]:
    """(typical, worst) seconds per measurable delay, from a make calibrate or make gameday report."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MeasuredFileError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise MeasuredFileError(f"{path} is not JSON: {error}") from None
    measured = document.get("measured") if isinstance(document, dict) else None
    if not isinstance(measured, dict):
        raise MeasuredFileError(f"{path} has no 'measured' object (write one with make calibrate or make gameday)")
    values: dict[str, tuple[float, float]] = {}
    for key, entry in measured.items():
        if key not in MEASURABLE:
            raise MeasuredFileError(f"{path}: unknown measurement {key!r}; known: {', '.join(MEASURABLE)}")
        typical, worst = (entry.get(name) if isinstance(entry, dict) else None for name in ("typical", "worst"))
        numbers = [
            value for value in (typical, worst) if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        if len(numbers) != 2 or not 0 <= numbers[0] <= numbers[1] <= 3600:
            raise MeasuredFileError(
                f"{path}: {key} needs numbers 0 <= typical <= worst <= 3600 (seconds), got {entry!r}"
            )
        values[key] = (float(numbers[0]), float(numbers[1]))
    return values


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
    trigger_period_s: float = 30.0
    alarm_period_s: float = 60.0
    in_region_ceiling_s: float = 120.0
    recheck_s: float = 15.0
    #: measured (typical, worst) seconds that replace the assumptions above (MEASURABLE keys)
    measured: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def from_parameters(
        cls, parameters: dict[str, str], measured: Mapping[str, tuple[float, float]] | None = None
    ) -> TimingModel:
        def number(name: str) -> float:
            try:
                return float(parameters[name])
            except KeyError:
                raise KeyError(f"template.yaml has no default for parameter {name}") from None
            except ValueError:
                raise KeyError(f"parameter {name} is not a number: {parameters[name]!r}") from None

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
            trigger_period_s=number("TriggerAlarmPeriodSeconds"),
            in_region_ceiling_s=number("InRegionFailoverCeilingSeconds"),
            recheck_s=_promoter_environment_number("HOLD_RETRY_DELAY_SECONDS", 15.0),
            measured=dict(measured or {}),
        )

    @classmethod
    def from_template(
        cls, config_env: str | None = None, measured: Mapping[str, tuple[float, float]] | None = None
    ) -> TimingModel:
        parameters = parameter_defaults(load_template())
        if config_env:
            parameters.update(samconfig_overrides(config_env))
        return cls.from_parameters(parameters, measured)

    def _value(self, key: str, typical: float, worst: float) -> tuple[float, float]:
        return self.measured.get(key, (typical, worst))

    @property
    def emf_delay_s(self) -> tuple[float, float]:
        return self._value("emf_delay_s", EMF_DELAY_TYPICAL_S, EMF_DELAY_WORST_S)

    @property
    def promotion_s(self) -> tuple[float, float]:
        return self._value("promotion_s", PROMOTION_TYPICAL_S, PROMOTION_WORST_S)

    @property
    def route53_lag_s(self) -> tuple[float, float]:
        return self._value("route53_health_lag_s", ROUTE53_HEALTH_LAG_TYPICAL_S, ROUTE53_HEALTH_LAG_WORST_S)

    @property
    def witness_lag_s(self) -> tuple[float, float]:
        """The writer's region lost -> a reading of its witness in the survivor's VPC answers unhealthy."""
        return self._value(
            "witness_lag_s",
            ROUTE53_LOST_REGION_TYPICAL_S + WITNESS_TTL_S / 2,
            ROUTE53_LOST_REGION_WORST_S + WITNESS_TTL_S,
        )

    def _why(self, key: str, assumed: str) -> str:
        if key in self.measured:
            typical, worst = self.measured[key]
            return f"MEASURED: {typical:g} s typical, {worst:g} s worst (was: {assumed})"
        return assumed

    @property
    def metric_delay_s(self) -> tuple[float, float]:
        """(typical, worst) seconds from a probe to its HealthCheckStatus datapoint being visible to alarms."""
        if self.metric_publisher == "api":
            return API_DELAY_TYPICAL_S, API_DELAY_WORST_S
        return self.emf_delay_s

    @property
    def probes_per_execution(self) -> int:
        return int(60 // self.probe_cadence_s)

    @property
    def trigger_high_resolution(self) -> bool:
        return self.trigger_period_s < 60

    @property
    def publishes_health_on_promotion(self) -> bool:
        return self.parameters.get("PublishHealthOnPromotion", "true") == "true"

    def _standard_alarm_evaluated(self, delay: tuple[float, float]) -> tuple[float, float]:
        """Period closed -> datapoint visible -> CloudWatch's next evaluation. A datapoint later than the
        evaluation reads as missing, so the worst case waits for the following evaluation. A measured lag
        (alarm history: the evaluated datapoint's period end -> the state change) already holds the delay."""
        if "alarm_evaluation_lag_s" in self.measured:
            return self.measured["alarm_evaluation_lag_s"]
        return delay[0] + ALARM_EVALUATION_INTERVAL_S / 4, delay[1] + ALARM_EVALUATION_INTERVAL_S

    def steps(self) -> list[Step]:
        """The critical path after the writer region is lost: the replica here reads a stale heartbeat on a
        silent link, the state machine wakes the promoter with that reading, the decision, the promotion.
        DNS moves in parallel (:meth:`dns_waits`); the trigger alarm is the backstop (:meth:`alarm_backstop`)."""
        cadence = self.probe_cadence_s
        threshold = self.heartbeat_threshold_s
        return [
            Step(
                "stale heartbeat and a silent link here",
                max(threshold - cadence / 2, LINK_SILENCE_S),
                max(threshold, LINK_SILENCE_S),
                f"HeartbeatAgeThresholdSeconds={threshold:g} (the last heartbeat is up to one cadence, {cadence:g} s, "
                f"old when the writer goes); the link silent {LINK_SILENCE_S:g} s (a reset link: at once)",
            ),
            Step("a probe here reads both", cadence / 2, cadence, f"ProbeCadenceSeconds={cadence:g}"),
            Step(
                "the state machine wakes PromoteFunction",
                WAKEUP_TO_LAMBDA_TYPICAL_S,
                WAKEUP_TO_LAMBDA_WORST_S,
                "asynchronous Lambda invocation with the probe's reading (assumption: 1 s typical, 5 s worst)",
            ),
            Step(
                "promoter gathers evidence, decides",
                DECISION_TYPICAL_S,
                DECISION_WORST_S,
                "bounded calls in parallel; worst: one round of timeouts and one re-check",
            ),
            Step(
                "FailoverGlobalReplicationGroup until PRIMARY",
                *self.promotion_s,
                self._why(
                    "promotion_s", "typical: AWS DR workshop 'RTO: 1 minute'; worst: ASSUMPTION (no public figure)"
                ),
            ),
        ]

    def alarm_backstop(self) -> tuple[float, float]:
        """T+0 -> the trigger alarm's notification reaching the promoter, had the wake-up failed: the
        stale HeartbeatAge datapoint visible (EMF), evaluated, SNS."""
        cadence = self.probe_cadence_s
        extra_periods = (self.trigger_alarm_periods - 1) * self.trigger_period_s
        if self.trigger_high_resolution:
            evaluated = (HIGH_RES_EVALUATION_INTERVAL_S / 2, HIGH_RES_EVALUATION_INTERVAL_S)
        else:
            standard = self._standard_alarm_evaluated((0.0, 0.0))
            evaluated = (self.trigger_period_s / 2 + standard[0], self.trigger_period_s + standard[1])
        return (
            self.heartbeat_threshold_s
            - cadence / 2
            + cadence / 2
            + self.emf_delay_s[0]
            + evaluated[0]
            + extra_periods
            + SNS_TO_LAMBDA_TYPICAL_S,
            self.heartbeat_threshold_s
            + cadence
            + self.emf_delay_s[1]
            + evaluated[1]
            + extra_periods
            + SNS_TO_LAMBDA_WORST_S,
        )

    def triggered_after(self) -> tuple[float, float]:
        """T+0 -> the promoter's first decision on the trigger (the steps before the promotion)."""
        steps = self.steps()[:-1]
        return sum(s.typical_s for s in steps), sum(s.worst_s for s in steps)

    def region_lost_waits(self) -> list[Step]:
        """What else a region-lost promotion waits for, from T+0, in parallel with the wake-up: a vantage
        outside both regions agreeing that the writer is gone (Route 53's checkers), since from here a lost
        region and a partition look the same."""
        return [
            Step(
                "Route 53 reports the writer unhealthy",
                self.route53_lag_s[0] + DECISION_TYPICAL_S,
                self.route53_lag_s[1] + DECISION_WORST_S,
                "the outside vantage: no alarm data from the lost region (ASSUMPTION: after Route 53's usual lag)",
            ),
        ]

    def us_east_1_waits(self) -> list[Step]:
        """The writer in us-east-1, lost with the Route 53 API: the outside vantage is the witness record,
        read from this region's DNS data plane (the in-VPC probe function, asked at each evidence round)."""
        return [
            Step(
                "Route 53's witness answers unhealthy here",
                self.witness_lag_s[0] + DECISION_TYPICAL_S,
                self.witness_lag_s[1] + DECISION_WORST_S,
                self._why(
                    "witness_lag_s",
                    f"ASSUMPTION: Route 53's lag for a lost region ({ROUTE53_LOST_REGION_TYPICAL_S:g} s typical, "
                    f"{ROUTE53_LOST_REGION_WORST_S:g} s worst) + the witness TTL ({WITNESS_TTL_S:g} s) + the "
                    "evidence round that reads it",
                ),
            ),
        ]

    def in_region_waits(self) -> list[Step]:
        """A writer that dies while its region's APIs answer: no promotion before the in-region ceiling."""
        cadence = self.probe_cadence_s
        return [
            Step(
                "in-region ceiling passes",
                cadence / 2 + self.in_region_ceiling_s + CEILING_RECHECK_S + DECISION_TYPICAL_S,
                cadence + self.in_region_ceiling_s + CEILING_RECHECK_S + DECISION_WORST_S,
                f"from the writer's first failed probe (within one cadence) + InRegionFailoverCeilingSeconds="
                f"{self.in_region_ceiling_s:g}",
            )
        ]

    def _joined(self, waits: list[Step]) -> tuple[float, float]:
        """The trigger's first decision, or later when a wait ends later: the promoter holds and looks
        again every HOLD_RETRY_DELAY_SECONDS (half of it typical)."""
        typical, worst = self.triggered_after()
        for wait in waits:
            if wait.typical_s > typical:
                typical = wait.typical_s + (self.recheck_s / 2 if wait.name != "in-region ceiling passes" else 0.0)
            if wait.worst_s > worst:
                worst = wait.worst_s + (self.recheck_s if wait.name != "in-region ceiling passes" else 0.0)
        return typical, worst

    def decided_after(self, case: str = "region-lost") -> tuple[float, float]:
        """T+0 -> the decision to promote: ``region-lost`` (the writer region's APIs gone), ``us-east-1``
        (the same, with the Route 53 API gone too) or ``in-region`` (the writer died while its region's
        APIs answer)."""
        waits = {
            "region-lost": self.region_lost_waits,
            "us-east-1": self.us_east_1_waits,
            "in-region": self.in_region_waits,
        }[case]()
        return self._joined(waits)

    def dns_waits(self, case: str = "region-lost") -> list[Step]:
        """What DNS waits for, counted from T+0, in parallel with the promotion: the new writer's record
        healthy and the old one unhealthy (Route 53 answers PRIMARY while it is healthy)."""
        decided = self.decided_after(case)
        period = self.alarm_period_s
        if self.publishes_health_on_promotion:
            api = self._standard_alarm_evaluated((API_DELAY_TYPICAL_S, API_DELAY_WORST_S))
            new_healthy = Step(
                "new writer's record healthy",
                decided[0] + period / 2 + api[0] + self.route53_lag_s[0],
                decided[1] + period + api[1] + self.route53_lag_s[1],
                "the promoter publishes HealthCheckStatus 1 when ElastiCache accepts the failover; the writer "
                "alarm (Maximum) turns OK at its next evaluation, then Route 53 follows",
            )
        else:
            emf = self._standard_alarm_evaluated(self.metric_delay_s)
            promoted = (decided[0] + self.promotion_s[0], decided[1] + self.promotion_s[1])
            new_healthy = Step(
                "new writer's record healthy",
                promoted[0] + self.probe_cadence_s / 2 + period / 2 + emf[0] + self.route53_lag_s[0],
                promoted[1] + self.probe_cadence_s + period + emf[1] + self.route53_lag_s[1],
                "PublishHealthOnPromotion=false: the first healthy probe after the promotion, then the alarm",
            )
        if case in ("region-lost", "us-east-1"):
            old_unhealthy = Step(
                "old writer's record unhealthy",
                self.route53_lag_s[0],
                self.route53_lag_s[1],
                "the whole region is gone: no alarm data (ASSUMPTION: after Route 53's usual lag)",
            )
        else:
            old_typical, old_worst = self.old_primary_unhealthy_after()
            old_unhealthy = Step(
                "old writer's record unhealthy",
                old_typical,
                old_worst,
                f"no healthy probe for {self.writer_alarm_periods} whole minute(s) (Maximum < 1), evaluated, "
                "Route 53 follows",
            )
        return [new_healthy, old_unhealthy]

    def total(self, case: str = "region-lost") -> tuple[float, float]:
        """T+0 -> redis.internal answers a writable node to a client that re-resolves."""
        decided = self.decided_after(case)
        writable = (decided[0] + self.promotion_s[0], decided[1] + self.promotion_s[1])
        waits = self.dns_waits(case)
        return (
            max(writable[0], *(w.typical_s for w in waits)) + self.record_ttl_s / 2,
            max(writable[1], *(w.worst_s for w in waits)) + self.record_ttl_s,
        )

    def old_primary_unhealthy_after(self) -> tuple[float, float]:
        """When Route 53 stops trusting the dead PRIMARY (parallel to the promotion path): the minute of the
        failure still holds healthy probes, then ``writer_alarm_periods`` whole minutes without one."""
        period = self.alarm_period_s
        typical_eval, worst_eval = self._standard_alarm_evaluated(self.metric_delay_s)
        return (
            period / 2 + self.writer_alarm_periods * period + typical_eval + self.route53_lag_s[0],
            period + self.writer_alarm_periods * period + worst_eval + self.route53_lag_s[1],
        )


# --- Prices (USD, us-east-1, AWS public price pages as of 2026; check your region) -----------------
PRICE_SFN_EXPRESS_PER_MILLION_REQUESTS = 1.00
PRICE_SFN_EXPRESS_PER_GB_SECOND = 0.00001667  # billed in 64 MB steps, 100 ms granularity
PRICE_SFN_STANDARD_PER_1000_TRANSITIONS = 0.025
PRICE_LAMBDA_PER_MILLION_REQUESTS = 0.20
PRICE_LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
PRICE_SCHEDULER_PER_MILLION = 1.00  # after the 14 M/month free tier
PRICE_CW_METRIC_MONTH = 0.30
PRICE_CW_ALARM_MONTH = 0.10  # standard resolution, per metric
PRICE_CW_HIGH_RES_ALARM_MONTH = 0.30  # high resolution (10 s evaluation), per metric
PRICE_CW_DASHBOARD_MONTH = 3.00  # the first 3 dashboards of an account are free
PRICE_CW_LOGS_PER_GB = 0.50
PRICE_R53_HEALTH_CHECK_MONTH = 0.50  # health check of an AWS resource (CloudWatch alarm)
PRICE_R53_HOSTED_ZONE_MONTH = 0.50
PRICE_KMS_KEY_MONTH = 1.00
PRICE_VPC_ENDPOINT_AZ_HOUR = 0.01
PRICE_XRAY_PER_MILLION_TRACES = 5.00  # first 100k traces/month free

MINUTES_PER_MONTH = 730 * 60
#: Cost lines only the PRIMARY-record stack carries (with the template defaults).
ONCE_PER_DEPLOYMENT = ("Route 53 private hosted zone", "CloudWatch dashboard")
PROBE_BILLED_SECONDS = 0.1  # warm probe ~5-50 ms, billed per ms; rounded up for VPC/TLS overhead
LOG_BYTES_PER_PROBE = 2_000  # START/END/REPORT + Powertools JSON line + EMF blob
EXPRESS_BILLED_GB = 0.0625  # 64 MB minimum
CUSTOM_METRICS = 6  # HealthCheckStatus, Reachable, ProbeLatency, HeartbeatAge, WriterWitness, PromotionDecision


@dataclass(frozen=True)
class CostLine:
    item: str
    usd_month: float
    basis: str


def _promoter_environment_number(name: str, default: float) -> float:
    """A number the template sets in PromoteFunction's environment (not a parameter)."""
    variables = load_template()["Resources"]["PromoteFunction"]["Properties"]["Environment"]["Variables"]
    value = variables.get(name, default)
    return float(value) if isinstance(value, int | float | str) else default


def monthly_cost(model: TimingModel, template: dict[str, Any] | None = None) -> list[CostLine]:
    template = template or load_template()
    resources = template.get("Resources", {})
    alarms = [r for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm"]
    effective = {**parameter_defaults(template), **model.parameters}
    billed = [
        (_billed_alarm_metrics(template, alarm, effective), _is_high_resolution(alarm, effective)) for alarm in alarms
    ]
    alarm_metrics = sum(count for count, _ in billed)
    high_res_metrics = sum(count for count, high in billed if high)
    memory_gb = float(template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)) / 1024
    executions = MINUTES_PER_MONTH
    probes = executions * model.probes_per_execution
    execution_seconds = (model.probes_per_execution - 1) * model.probe_cadence_s + 1.0
    params = model.parameters
    lines = []
    if params.get("StateMachineType", "EXPRESS") == "EXPRESS":
        sfn = executions / 1e6 * PRICE_SFN_EXPRESS_PER_MILLION_REQUESTS + (
            executions * math.ceil(execution_seconds * 10) / 10 * EXPRESS_BILLED_GB * PRICE_SFN_EXPRESS_PER_GB_SECOND
        )
        lines.append(
            CostLine(
                "Step Functions EXPRESS",
                sfn,
                f"{executions:,} executions x {execution_seconds:g} s x 64 MB (the Wait is billed)",
            )
        )
    else:
        transitions = executions * (2 * model.probes_per_execution - 1)
        lines.append(
            CostLine(
                "Step Functions STANDARD",
                transitions / 1000 * PRICE_SFN_STANDARD_PER_1000_TRANSITIONS,
                f"{transitions:,} state transitions",
            )
        )
    lines += [
        CostLine(
            "Lambda probe",
            probes / 1e6 * PRICE_LAMBDA_PER_MILLION_REQUESTS
            + probes * PROBE_BILLED_SECONDS * memory_gb * PRICE_LAMBDA_ARM_PER_GB_SECOND,
            f"{probes:,} invocations x {PROBE_BILLED_SECONDS:g} s x {memory_gb * 1024:g} MB arm64",
        ),
        CostLine(
            "EventBridge Scheduler",
            executions / 1e6 * PRICE_SCHEDULER_PER_MILLION,
            f"{executions:,} invocations (0 inside the free tier)",
        ),
        CostLine(
            "CloudWatch custom metrics",
            CUSTOM_METRICS * PRICE_CW_METRIC_MONTH,
            f"{CUSTOM_METRICS} metrics x 1 dimension set",
        ),
        CostLine(
            "CloudWatch alarms",
            (alarm_metrics - high_res_metrics) * PRICE_CW_ALARM_MONTH
            + high_res_metrics * PRICE_CW_HIGH_RES_ALARM_MONTH,
            f"{len(alarms)} alarms over {alarm_metrics} metrics, {high_res_metrics} high-resolution "
            "(billed per metric)",
        ),
        CostLine(
            "CloudWatch Logs ingestion",
            probes * LOG_BYTES_PER_PROBE / 1e9 * PRICE_CW_LOGS_PER_GB,
            f"~{LOG_BYTES_PER_PROBE} B per probe",
        ),
        CostLine(
            "X-Ray traces",
            max(0.0, probes - 100_000) / 1e6 * PRICE_XRAY_PER_MILLION_TRACES,
            f"{probes:,} traces, first 100k free",
        ),
        CostLine("Route 53 health check", PRICE_R53_HEALTH_CHECK_MONTH, "1 CLOUDWATCH_METRIC health check"),
        CostLine("KMS customer-managed key", PRICE_KMS_KEY_MONTH, "alarm topic encryption"),
    ]
    if creates_dashboard(effective):
        lines.append(
            CostLine(
                "CloudWatch dashboard",
                PRICE_CW_DASHBOARD_MONTH,
                "1 per deployment, in the PRIMARY-record stack (free if among the account's first 3)",
            )
        )
    if not params.get("HostedZoneId") and effective.get("FailoverRole", "PRIMARY") == "PRIMARY":
        lines.append(
            CostLine(
                "Route 53 private hosted zone",
                PRICE_R53_HOSTED_ZONE_MONTH,
                "created by this stack (one per deployment pair is enough)",
            )
        )
    endpoints = [
        name
        for name, flag in (
            ("secretsmanager", "CreateSecretsManagerEndpoint"),
            ("monitoring", "CreateMonitoringEndpoint"),
        )
        if params.get(flag) == "true"
    ]
    for endpoint in endpoints:
        lines.append(
            CostLine(
                f"VPC interface endpoint ({endpoint})",
                2 * 730 * PRICE_VPC_ENDPOINT_AZ_HOUR,
                "2 AZs x 730 h (data processing extra)",
            )
        )
    return lines


def creates_dashboard(parameters: dict[str, str]) -> bool:
    """The template's CreatesDashboard condition; a stack without a FailoverRole yet counts as the PRIMARY."""
    choice = parameters.get("CreateDashboard", "auto")
    return choice == "true" or (choice == "auto" and parameters.get("FailoverRole", "PRIMARY") == "PRIMARY")


def _billed_alarm_metrics(template: dict[str, Any], alarm: dict[str, Any], parameters: dict[str, str]) -> int:
    """CloudWatch bills an alarm per metric it reads: a metric-math alarm counts each MetricStat that
    its conditions keep (MonitoredNodeCount)."""
    props = alarm.get("Properties", {})
    if not props.get("Metrics"):
        return 1
    return sum(1 for query in metric_queries(template, props, parameters) if "MetricStat" in query)


def _is_high_resolution(alarm: dict[str, Any], parameters: dict[str, str]) -> bool:
    period = alarm.get("Properties", {}).get("Period", 60)
    if isinstance(period, dict) and "Ref" in period:
        period = parameters.get(str(period["Ref"]), "60")
    return float(period) < 60


def _seconds(value: float) -> str:
    return f"{value:6.0f} s" if value < 120 else f"{value:6.0f} s ({value / 60:.1f} min)"


SHOWN_PARAMETERS = (
    "ProbeCadenceSeconds",
    "ProbeTimeoutSeconds",
    "HeartbeatAgeThresholdSeconds",
    "TriggerAlarmPeriodSeconds",
    "TriggerAlarmEvaluationPeriods",
    "WriterAlarmEvaluationPeriods",
    "InRegionFailoverCeilingSeconds",
    "HealthMetricPublisher",
    "RecordTtl",
    "PromotionMode",
    "StateMachineType",
)


def overrides_in_effect(model: TimingModel, template: dict[str, Any] | None = None) -> list[str]:
    """Every parameter whose value differs from the template default, as Name=value (each can change a
    number below, e.g. PublishHealthOnPromotion=false), in the template's parameter order."""
    template = template or load_template()
    defaults = parameter_defaults(template)
    changed = [(name, value) for name, value in model.parameters.items() if defaults.get(name) != value]
    order = list(template.get("Parameters") or {}) + sorted(name for name, _ in changed)
    return [f"{name}={value}" for name, value in sorted(changed, key=lambda item: order.index(item[0]))]


def render(model: TimingModel, config_env: str | None, measured_from: Path | None = None) -> str:
    out = [
        "gds-failover timing model - template.yaml defaults"
        + (f" + samconfig env '{config_env}'" if config_env else "")
    ]
    if measured_from is not None:
        out.append(f"measured values from {measured_from} replace these assumptions:")
        for key, (typical, worst) in model.measured.items():
            out.append(f"  {key}: {typical:g} s typical, {worst:g} s worst  (was: {MEASURABLE[key]})")
        if not model.measured:
            out.append("  none: the file holds no measurement; every assumption stays")
        kept = [description for key, description in MEASURABLE.items() if key not in model.measured]
        if kept and model.measured:
            out.append("  still assumed: " + "; ".join(kept))
    out.append("parameters: " + ", ".join(f"{k}={model.parameters.get(k, '?')}" for k in SHOWN_PARAMETERS))
    out.append("overrides in effect: " + (", ".join(overrides_in_effect(model)) or "none (template defaults)"))
    out.append("")
    out.append(f"{'step (primary region lost at T+0)':<48} {'typical':>9} {'worst':>9}")
    typical_total = worst_total = 0.0
    for step in model.steps()[:-1]:
        typical_total += step.typical_s
        worst_total += step.worst_s
        out.append(
            f"{step.name:<48} {step.typical_s:>7.0f} s {step.worst_s:>7.0f} s   T+{typical_total:.0f}/{worst_total:.0f}"
        )
        out.append(f"    {step.why}")
    backstop = model.alarm_backstop()
    out.append(
        f"  (backstop: the trigger alarm, through EMF, its evaluation and SNS, would reach it at "
        f"T+{backstop[0]:.0f}/{backstop[1]:.0f})"
    )
    out.append("the promoter also waits for (from T+0; it looks again every HOLD_RETRY_DELAY_SECONDS):")
    for wait in model.region_lost_waits():
        out.append(f"  {wait.name:<46} {wait.typical_s:>7.0f} s {wait.worst_s:>7.0f} s")
        out.append(f"    {wait.why}")
    decided = model.decided_after()
    out.append(f"{'decides to promote':<48} {'':>9} {'':>9}   T+{decided[0]:.0f}/{decided[1]:.0f}")
    promotion = model.steps()[-1]
    out.append(f"{promotion.name:<48} {promotion.typical_s:>7.0f} s {promotion.worst_s:>7.0f} s")
    out.append(f"    {promotion.why}")
    out.append("in parallel, DNS waits for (from T+0):")
    for wait in model.dns_waits():
        out.append(f"  {wait.name:<46} {wait.typical_s:>7.0f} s {wait.worst_s:>7.0f} s")
        out.append(f"    {wait.why}")
    out.append(
        f"  {'clients re-resolve (RecordTtl)':<46} {model.record_ttl_s / 2:>7.0f} s {model.record_ttl_s:>7.0f} s"
    )
    typical, worst = model.total()
    out.append(
        f"{'total to a writable redis.internal':<48} {_seconds(typical):>9} | worst {_seconds(worst)}"
        "   (the later of the promotion and DNS, plus the TTL)"
    )
    witness = model.us_east_1_waits()[0]
    us_east_1 = model.total("us-east-1")
    out.append(
        f"writer in us-east-1, lost with the Route 53 API: {witness.name} at T+{witness.typical_s:.0f}/"
        f"{witness.worst_s:.0f} ({witness.why}); total {us_east_1[0]:.0f} s typical, {us_east_1[1]:.0f} s worst"
    )
    ceiling = model.in_region_waits()[0]
    in_region = model.total("in-region")
    out.append(
        f"writer dies while its region's APIs answer: {ceiling.name} at "
        f"T+{ceiling.typical_s:.0f}/{ceiling.worst_s:.0f} ({ceiling.why}); "
        f"total {in_region[0]:.0f} s typical, {in_region[1]:.0f} s worst"
    )
    grace = float(model.parameters.get("SuccessionGraceSeconds", "180"))
    out.append(
        f"three regions (SuccessionGraceSeconds={grace:g}): the preferred secondary as above; the other one "
        f"promotes as above when it sees the preferred one cannot, or after the grace when it did not: "
        f"~{typical + grace + DECISION_TYPICAL_S:.0f} s typical, {worst + grace + DECISION_WORST_S:.0f} s worst"
    )
    if model.promotion_mode != "auto":
        out.append(
            f"NOTE: PromotionMode={model.promotion_mode}: the promoter only decides and notifies; "
            "a human runs the promotion, so the total above starts when they do."
        )
    out.append("")
    out.append(f"{'monthly cost per regional stack':<36} {'USD':>8}  basis")
    lines = monthly_cost(model)
    for line in lines:
        out.append(f"{line.item:<36} {line.usd_month:>8.2f}  {line.basis}")
    cost = sum(line.usd_month for line in lines)
    out.append(
        f"{'total':<36} {cost:>8.2f}  (prices: tools/rto.py, us-east-1; "
        f"{cost - PREVIOUS_COST_USD:+.2f} against ${PREVIOUS_COST_USD:.2f} before the 30 s default)"
    )
    once = sum(line.usd_month for line in lines if line.item in ONCE_PER_DEPLOYMENT)
    out.append(
        f"{'each other region (SECONDARY stack)':<36} {cost - once:>8.2f}"
        "  (the hosted zone and the dashboard exist once, in the PRIMARY-record stack)"
    )
    out.append("")
    out.append(render_profiles(model))
    return "\n".join(out)


def render_profiles(model: TimingModel) -> str:
    """The model's parameters beside each documented profile (PROFILES), the same figures side by side."""
    models = {"these parameters": model} | {
        name: TimingModel.from_parameters({**model.parameters, **overrides}, model.measured)
        for name, overrides in PROFILES.items()
    }
    header = f"{'profile (typical / worst)':<44}" + "".join(f"{name:>20}" for name in models)
    rows = [header]

    def row(label: str, value: Callable[[TimingModel], str]) -> str:
        return f"{label:<44}" + "".join(f"{value(m):>20}" for m in models.values())

    rows.append(row("region lost: writable redis.internal", lambda m: "{:.0f} / {:.0f} s".format(*m.total())))
    rows.append(row("us-east-1 lost (witness): writable", lambda m: "{:.0f} / {:.0f} s".format(*m.total("us-east-1"))))
    rows.append(
        row("writer dies, its region's APIs answer", lambda m: "{:.0f} / {:.0f} s".format(*m.total("in-region")))
    )
    rows.append(row("monthly cost per stack", lambda m: f"${sum(c.usd_month for c in monthly_cost(m)):.2f}"))
    for name, overrides in PROFILES.items():
        rows.append(f"{name}: " + " ".join(f"{k}={v}" for k, v in overrides.items()) + " (docs/parameters.md)")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make rto", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-env", help="samconfig.toml environment whose parameter_overrides apply")
    parser.add_argument("--measured", type=Path, help="a make calibrate / make gameday report: measured delays")
    args = parser.parse_args(argv)
    try:
        measured = load_measured(args.measured) if args.measured else {}
        model = TimingModel.from_template(args.config_env, measured)
    except (KeyError, ValueError) as error:  # unknown env or parameter; malformed samconfig or MEASURED file
        print(f"rto: {error.args[0]}", file=sys.stderr)
        return 2
    print(render(model, args.config_env, args.measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
