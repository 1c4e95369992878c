"""EMULATION of the AWS behaviour moto does not provide: alarm evaluation, Route 53's failover answer
and the ElastiCache Global Datastore control plane.

- Alarms follow CloudWatch's documented semantics for metric alarms: every ALARM_EVALUATION_INTERVAL_S
  the statistic of each period of the evaluation range (EvaluationPeriods + EVALUATION_RANGE_EXTRA_PERIODS
  complete periods) is computed from the datapoints that have *arrived*; with at least EvaluationPeriods
  of them the most recent ones decide, otherwise TreatMissingData fills the rest (:func:`evaluate_range`,
  unit-tested against the user guide's table). A late datapoint counts once it arrives, while its period
  is inside the range. All EvaluationPeriods must breach for ALARM (the template sets no
  DatapointsToAlarm). The definitions come from template.yaml.
- Route 53: a CLOUDWATCH_METRIC health check follows its alarm ROUTE53_HEALTH_LAG later; ALARM and
  INSUFFICIENT_DATA (InsufficientDataHealthStatus: Unhealthy) are unhealthy, and so is an alarm whose
  region is gone. The failover answer is PRIMARY when healthy, else SECONDARY, except that a SECONDARY
  with an unhealthy health check leaves PRIMARY answered. Three regions: a failover alias record
  (EvaluateTargetHealth) is healthy when any record at its target name is, and is followed to the
  target's failover answer (the nested pair secondaries.<RecordName>).
  High-resolution alarms (period 10, 20 or 30 s) are evaluated every 10 s over the period that
  ended at the evaluation (CloudWatch user guide: "If the alarm period is 10 seconds or 30 seconds,
  the alarm is evaluated every 10 seconds"; the rolling window is an assumption).
- Global Datastore: describe / failover / disassociate per region, with the real API's error for a
  failover while the datastore is not available, the status going available -> modifying ->
  available, and the promotion done by real REPLICAOF commands on the redis-servers (the old primary
  and, with three members, the other secondary follow the new one when they answer) after the
  timing model's promotion delay (typical by default; a scenario can ask for the worst-case
  assumption). A hung old primary (SIGSTOP) is treated like an unreachable one.
- Each region's ElastiCache API also reports its replication group's status and failover events
  (DescribeReplicationGroups / DescribeEvents), which an in-region (Multi-AZ) failover scenario sets:
  the status stays ``available`` and the events come in the documented order and wording, each visible
  after a delay the scenario chooses (no published figure).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gdfailover.awscall import AwsCallError, ErrorKind
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreMember, MemberRole, ReplicationGroupActivity
from tools import rto
from tools.drill.sim import Simulation
from tools.localredis import RedisServer

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Fn::Sub for the plain ``${Name}`` form, as the template's names use it."""
    return _SUB_VARIABLE.sub(lambda match: values[match.group(1)], text)


def resolve(value: Any, values: Mapping[str, str]) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return values[str(value["Ref"])]
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return substitute(value["Fn::Sub"], values)
    return str(value)


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
}
_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Minimum": min,
    "Maximum": max,
    "Average": lambda values: sum(values) / len(values),
    "Sum": sum,
    "SampleCount": lambda values: float(len(values)),
}


@dataclass(frozen=True)
class AlarmSpec:
    """A metric alarm of template.yaml, resolved for one regional stack."""

    logical_id: str
    name: str
    region: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    period_s: int
    evaluation_periods: int
    threshold: float
    comparison: str
    treat_missing: str

    @classmethod
    def from_template(
        cls, template: Mapping[str, Any], logical_id: str, values: Mapping[str, str], region: str
    ) -> AlarmSpec:
        props = template["Resources"][logical_id]["Properties"]
        return cls(
            logical_id=logical_id,
            name=resolve(props["AlarmName"], values),
            region=region,
            namespace=resolve(props["Namespace"], values),
            metric_name=resolve(props["MetricName"], values),
            dimensions=tuple((resolve(d["Name"], values), resolve(d["Value"], values)) for d in props["Dimensions"]),
            statistic=resolve(props["Statistic"], values),
            period_s=int(resolve(props["Period"], values)),
            evaluation_periods=int(resolve(props["EvaluationPeriods"], values)),
            threshold=float(resolve(props["Threshold"], values)),
            comparison=resolve(props["ComparisonOperator"], values),
            treat_missing=resolve(props.get("TreatMissingData", "missing"), values),
        )

    @property
    def high_resolution(self) -> bool:
        return self.period_s < 60

    @property
    def evaluation_interval_s(self) -> float:
        return 10.0 if self.high_resolution else 60.0

    def describe(self) -> str:
        op = {"LessThanThreshold": "<", "GreaterThanThreshold": ">"}.get(self.comparison, self.comparison)
        return (
            f"{self.metric_name} {self.statistic} {op} {self.threshold:g}, {self.period_s}s x "
            f"{self.evaluation_periods}, missing={self.treat_missing}"
        )


@dataclass
class Datapoint:
    timestamp: float  # emulated seconds: when the probe measured it
    value: float
    arrives: float  # when CloudWatch can see it (probe time + metric delay)


@dataclass
class AlarmTransition:
    at: float
    old: str
    new: str
    reason: str


#: CloudWatch "attempts to retrieve a higher number of data points than the number specified as Evaluation
#: Periods" (the evaluation range; user guide, "How CloudWatch alarms treat missing data"). Its size is not
#: documented: the guide's examples show five periods for three evaluation periods. ASSUMPTION: two periods
#: more than EvaluationPeriods, for standard and high-resolution alarms alike. A larger range lets a late
#: datapoint count longer (a late HeartbeatAge still fires the trigger: promotion later, not never) and keeps
#: an alarm evaluating the last datapoints of a metric that stopped (the writer alarm stays OK longer: DNS
#: moves away from a silent writer later).
EVALUATION_RANGE_EXTRA_PERIODS = 2


@dataclass
class EmulatedAlarm:
    spec: AlarmSpec
    state: str = "INSUFFICIENT_DATA"
    datapoints: list[Datapoint] = field(default_factory=list)
    history: list[AlarmTransition] = field(default_factory=list)
    region_alive: bool = True

    def add(self, datapoint: Datapoint) -> None:
        self.datapoints.append(datapoint)

    def period_values(self, now: float) -> list[float | None]:
        """The statistic of each period of the evaluation range, most recent first, from the datapoints
        that have *arrived* by ``now`` (None: no datapoint for that period yet)."""
        period = self.spec.period_s
        last_end = (now // period) * period if not self.spec.high_resolution else (now // 10) * 10
        values: list[float | None] = []
        for index in range(self.spec.evaluation_periods + EVALUATION_RANGE_EXTRA_PERIODS):
            end = last_end - index * period
            seen = [p.value for p in self.datapoints if end - period <= p.timestamp < end and p.arrives <= now]
            values.append(_STATISTICS[self.spec.statistic](seen) if seen else None)
        return values

    def evaluate(self, now: float) -> AlarmTransition | None:
        """Evaluate at ``now`` (a period boundary, or a 10 s tick for a high-resolution alarm); return the
        transition if the state changed."""
        if not self.region_alive:
            return None
        values = self.period_values(now)
        new = evaluate_range(
            [None if v is None else _COMPARISONS[self.spec.comparison](v, self.spec.threshold) for v in values],
            self.spec.evaluation_periods,
            self.spec.treat_missing,
            self.state,
        )
        if new == self.state:
            return None
        shown = ", ".join("missing" if v is None else f"{v:g}" for v in reversed(values))
        reason = f"[{shown}] (evaluation range, oldest first) for {self.spec.describe()}"
        transition = AlarmTransition(now, self.state, new, reason)
        self.state = new
        self.history.append(transition)
        return transition

    def state_at(self, when: float) -> str:
        state = "INSUFFICIENT_DATA"
        for transition in self.history:
            if transition.at <= when:
                state = transition.new
        return state


def evaluate_range(breaching: list[bool | None], evaluation_periods: int, treat_missing: str, current: str) -> str:
    """CloudWatch's evaluation of one alarm over its evaluation range (CloudWatch user guide, "How alarm
    state is evaluated when data is missing"). ``breaching`` holds each period of the range, most recent
    first: True breaching, False not, None missing. DatapointsToAlarm equals EvaluationPeriods (the
    template sets none).

    - At least EvaluationPeriods datapoints retrieved: "CloudWatch evaluates the alarm state based on the
      most recent data points that were successfully retrieved"; missing ones do not count at all.
    - Fewer: the missing ones are filled with TreatMissingData, "as few times as possible"; with
      ``missing`` or ``ignore``, an outcome the real datapoints cannot settle is INSUFFICIENT_DATA
      (every datapoint missing) or the current state.
    """
    retrieved = [b for b in breaching if b is not None]
    needed = evaluation_periods
    if len(retrieved) >= needed:
        return "ALARM" if all(retrieved[:needed]) else "OK"
    fillers = needed - len(retrieved)
    counted = {"breaching": sum(retrieved) + fillers, "notBreaching": sum(retrieved)}
    if treat_missing in counted:
        return "ALARM" if counted[treat_missing] >= needed else "OK"
    if not all(retrieved):
        return "OK"  # a real datapoint within the threshold: ALARM is out of reach whatever is missing
    if treat_missing == "ignore":
        return current
    # missing: INSUFFICIENT_DATA when nothing was retrieved; else every real datapoint breaches
    return "ALARM" if retrieved else "INSUFFICIENT_DATA"


#: The record name the drill's client resolves (template default RecordName).
RECORD_NAME = "redis.internal."


@dataclass
class FailoverRecord:
    set_identifier: str
    role: str  # PRIMARY | SECONDARY
    target: str  # the replication group's primary endpoint name; "" for an alias
    health_alarm: EmulatedAlarm | None
    name: str = RECORD_NAME
    #: A failover alias record (EvaluateTargetHealth true) to another name of the zone: three regions'
    #: SECONDARY at RecordName, pointing to the nested pair secondaries.<RecordName>.
    alias_to: str | None = None


@dataclass
class EmulatedRoute53:
    """Failover routing, from the health of each record's health check, for one record name or (three
    regions) a record name whose SECONDARY is an alias into a nested failover pair."""

    records: list[FailoverRecord]
    health_lag_s: float
    ttl_s: float
    region_lost_at: dict[str, float] = field(default_factory=dict)
    #: What the checkers report for an alarm whose region is gone. ASSUMPTION (undocumented):
    #: "unhealthy" (InsufficientDataHealthStatus Unhealthy, after health_lag_s) makes a promotion possible;
    #: "last_known" (the status before the region went) keeps the witness healthy: the product holds.
    lost_region_status: str = "unhealthy"

    def healthy(self, record: FailoverRecord, now: float) -> bool:
        if record.alias_to is not None:
            # EvaluateTargetHealth: healthy when any record at the target name is ("backs out of that
            # branch of the tree" when none is).
            return any(self.healthy(r, now) for r in self.records if r.name == record.alias_to)
        if record.health_alarm is None:
            return True
        seen_at = now - self.health_lag_s
        lost = self.region_lost_at.get(record.health_alarm.spec.region)
        if lost is not None and seen_at >= lost:
            if self.lost_region_status == "last_known":
                return record.health_alarm.state_at(lost) == "OK"
            return False  # the alarm's region is gone: no data, InsufficientDataHealthStatus Unhealthy
        return record.health_alarm.state_at(seen_at) == "OK"

    def answer(self, now: float, name: str = RECORD_NAME) -> FailoverRecord:
        """The record (never an alias: it is followed) Route 53 answers for ``name``."""
        return self.answer_path(now, name)[-1]

    def answer_path(self, now: float, name: str = RECORD_NAME) -> list[FailoverRecord]:
        """The failover records chosen on the way from ``name`` to the answer (an alias, then its target)."""
        group = [r for r in self.records if r.name == name]
        primary = next(r for r in group if r.role == "PRIMARY")
        secondary = next(r for r in group if r.role == "SECONDARY")
        chosen = secondary
        if self.healthy(primary, now):
            chosen = primary
        elif (secondary.health_alarm is not None or secondary.alias_to is not None) and not self.healthy(
            secondary, now
        ):
            chosen = primary  # "when the secondary is unhealthy, Route 53 responds with the primary regardless"
        if chosen.alias_to is not None:
            return [chosen, *self.answer_path(now, chosen.alias_to)]
        return [chosen]

    def describe(self, now: float, name: str = RECORD_NAME) -> str:
        """``PRIMARY <endpoint>``, or for a nested answer ``SECONDARY > PRIMARY <endpoint>``."""
        path = self.answer_path(now, name)
        return " > ".join(r.role for r in path) + f" {path[-1].target}"


class EmulatedVpcResolver:
    """A region's VPC resolver (Route 53 Resolver, data plane: it survives the loss of us-east-1, where
    the Route 53 API lives; "AWS Fault Isolation Boundaries", Appendix B) answering the failover records of
    the private zone from :class:`EmulatedRoute53`, each answer cached for its record's TTL as a
    resolver may (RFC 1035 section 3.2.1)."""

    def __init__(self, route53: EmulatedRoute53, now: Callable[[], float], ttl_s: Callable[[str], int]) -> None:
        self._route53 = route53
        self._now = now
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[float, str]] = {}

    def txt(self, name: str) -> tuple[str, int] | None:
        now = self._now()
        cached = self._cache.get(name)
        if cached is not None and cached[0] > now:
            return cached[1], max(0, int(cached[0] - now))
        if not any(record.name == name for record in self._route53.records):
            return None
        ttl = self._ttl_s(name)
        text = self._route53.answer(now, name).target
        self._cache[name] = (now + ttl, text)
        return text, ttl


@dataclass
class Member:
    replication_group_id: str
    region: str
    role: str
    server: RedisServer


class GlobalDatastoreEmulator:
    """One Global Datastore of two or three members; each region sees it through :meth:`view`."""

    def __init__(
        self,
        simulation: Simulation,
        global_replication_group_id: str,
        members: list[Member],
        on_event: Callable[[str, str], None],
    ) -> None:
        self._simulation = simulation
        self.global_replication_group_id = global_replication_group_id
        self.members = members
        self.status = "available"
        self.unreachable_regions: set[str] = set()
        self.failover_calls: list[tuple[float, str, str]] = []  # (time, caller region, new primary)
        self.promotion_delay_s = rto.PROMOTION_TYPICAL_S
        #: replication group id -> status, and (emulated time, group, message) events, per ElastiCache
        self.group_status: dict[str, str] = {m.replication_group_id: "available" for m in members}
        #: (occurred, group, message, visible in DescribeEvents from): an event's Date is when it
        #: occurred; when it becomes visible has no published figure (a scenario sets the delay).
        self.events: list[tuple[float, str, str, float]] = []
        self._on_event = on_event
        self._lock = threading.Lock()
        #: Points a member's server at another member as its primary (the drill routes it through the
        #: emulated inter-region network); None: REPLICAOF directly.
        self.link: Callable[[Member, Member], None] = lambda replica, writer: replica.server.replicate_from(
            writer.server
        )
        #: Whether a caller in one region reaches another region's ElastiCache API (partitions).
        self.api_reachable: Callable[[str, str], bool] = lambda caller, callee: True

    def member(self, replication_group_id: str) -> Member:
        return next(m for m in self.members if m.replication_group_id == replication_group_id)

    @property
    def primary(self) -> Member:
        return next(m for m in self.members if m.role == MemberRole.PRIMARY)

    def view(self, region: str, caller: str | None = None) -> RegionalDatastoreApi:
        """Region ``region``'s ElastiCache API, as a caller in region ``caller`` reaches it."""
        return RegionalDatastoreApi(self, region, caller)

    def snapshot(self) -> GlobalDatastore:
        return GlobalDatastore(
            global_replication_group_id=self.global_replication_group_id,
            status=self.status,
            members=tuple(
                GlobalDatastoreMember(m.replication_group_id, m.region, m.role, "associated") for m in self.members
            ),
        )

    def request_failover(self, caller_region: str, primary_region: str, replication_group_id: str) -> None:
        # Promoters of two regions run as concurrent threads: the service's own serialization (a
        # failover turns the datastore modifying for every caller) must hold between them too.
        with self._lock:
            self._request_failover(caller_region, primary_region, replication_group_id)

    def _request_failover(self, caller_region: str, primary_region: str, replication_group_id: str) -> None:
        if self.status != "available":
            raise AwsCallError(
                "FailoverGlobalReplicationGroup",
                ErrorKind.INVALID_STATE,
                "InvalidGlobalReplicationGroupState",
                f"Global replication group {self.global_replication_group_id} is {self.status}",
            )
        new = self.member(replication_group_id)
        if new.region != primary_region or new.role == MemberRole.PRIMARY:
            raise AwsCallError(
                "FailoverGlobalReplicationGroup",
                ErrorKind.OTHER,
                "InvalidParameterValue",
                f"{replication_group_id} in {primary_region} cannot become primary",
            )
        old = self.primary
        delay = self.promotion_delay_s
        self.status = "modifying"
        self.failover_calls.append((self._simulation.now, caller_region, replication_group_id))
        model = "typical" if delay == rto.PROMOTION_TYPICAL_S else "worst-case assumption"
        self._on_event(
            "gds",
            f"FailoverGlobalReplicationGroup accepted (from {caller_region}): status modifying; "
            f"{replication_group_id} PRIMARY in {delay:.0f}s (model: {model})",
        )
        self._simulation.after(delay, lambda: self._complete_failover(old, new))

    def _complete_failover(self, old: Member, new: Member) -> None:
        # A hung (SIGSTOPped) old primary answers nothing, like an unreachable one: no WAIT, no REPLICAOF.
        old_usable = self._usable(old)
        if old_usable:
            # Planned switchover: no client runs during this event, so waiting for the replicas'
            # acknowledgement (every connected one: with three members, one of them is not the new
            # primary) is enough for the new primary to hold every acknowledged write.
            with old.server.client(timeout=2.0) as client:
                connected = max(1, int(client.info("replication").get("connected_slaves", 0)))
                client.execute_command("WAIT", str(connected), "1000")
        new.server.replicate_from(None)
        if old_usable:
            self.link(old, new)
            # The resync runs in real time while emulated time would race ahead (about 2 emulated
            # minutes per wall second): without this wait a replica could serve a heartbeat that looks
            # minutes old and fire its promotion trigger. Emulated time stands still until it is in sync.
            old.server.wait_in_sync()
        # Three regions: the other secondary follows the new primary (ElastiCache re-points every
        # secondary member); a stopped, hung or unreachable one is left as it is.
        followers = [m for m in self.members if m is not old and m is not new and self._usable(m)]
        for member in followers:
            self.link(member, new)
            member.server.wait_in_sync()
        old.role, new.role = MemberRole.SECONDARY, MemberRole.PRIMARY
        self.status = "available"
        self._on_event(
            "gds",
            f"promotion complete: {new.replication_group_id} ({new.region}) is PRIMARY (REPLICAOF NO ONE)"
            + (f"; {old.replication_group_id} now REPLICAOF it" if old_usable else "; old primary unreachable")
            + "".join(f"; {m.replication_group_id} now REPLICAOF it" for m in followers),
        )

    def _usable(self, member: Member) -> bool:
        return member.server.running and not member.server.paused and member.region not in self.unreachable_regions

    def add_event(self, replication_group_id: str, message: str, visible_after_s: float = 0.0) -> None:
        now = self._simulation.now
        self.events.append((now, replication_group_id, message, now + visible_after_s))
        late = f" (visible in DescribeEvents {visible_after_s:.0f}s later)" if visible_after_s else ""
        self._on_event("gds", f"ElastiCache event {replication_group_id}: {message}{late}")

    def activity(self, replication_group_id: str, since: datetime) -> ReplicationGroupActivity:
        epoch = self._simulation.clock.epoch
        now = self._simulation.now
        events = tuple(
            (epoch + timedelta(seconds=at), message)
            for at, group, message, visible in self.events
            if group == replication_group_id and epoch + timedelta(seconds=at) >= since and visible <= now
        )
        return ReplicationGroupActivity(replication_group_id, self.group_status.get(replication_group_id, "?"), events)

    def disassociate(self, caller_region: str, replication_group_id: str) -> None:
        member = self.member(replication_group_id)
        self.members.remove(member)
        if member.server.running:
            member.server.replicate_from(None)
        self._on_event("gds", f"{replication_group_id} disassociated (standalone writer) by {caller_region}")


class RegionalDatastoreApi:
    """gdfailover.elasticache.GlobalDatastoreApi as one region's ElastiCache endpoint serves it."""

    def __init__(self, datastore: GlobalDatastoreEmulator, region: str, caller: str | None = None) -> None:
        self._datastore = datastore
        self._region = region
        self._caller = caller

    def _reachable(self, operation: str) -> None:
        cut = self._caller is not None and not self._datastore.api_reachable(self._caller, self._region)
        if self._region in self._datastore.unreachable_regions or cut:
            raise AwsCallError(
                operation,
                ErrorKind.UNREACHABLE,
                "EndpointConnectionError",
                f"Could not connect to the endpoint URL: https://elasticache.{self._region}.amazonaws.com/",
            )

    def describe(self, global_replication_group_id: str) -> GlobalDatastore:
        self._reachable("DescribeGlobalReplicationGroups")
        if global_replication_group_id != self._datastore.global_replication_group_id:
            raise AwsCallError(
                "DescribeGlobalReplicationGroups",
                ErrorKind.NOT_FOUND,
                "GlobalReplicationGroupNotFoundFault",
                global_replication_group_id,
            )
        return self._datastore.snapshot()

    def failover(
        self, global_replication_group_id: str, primary_region: str, primary_replication_group_id: str
    ) -> None:
        self._reachable("FailoverGlobalReplicationGroup")
        self._datastore.request_failover(self._region, primary_region, primary_replication_group_id)

    def disassociate(
        self, global_replication_group_id: str, replication_group_id: str, replication_group_region: str
    ) -> None:
        self._reachable("DisassociateGlobalReplicationGroup")
        self._datastore.disassociate(self._region, replication_group_id)

    def replication_group_activity(self, replication_group_id: str, since: datetime) -> ReplicationGroupActivity:
        self._reachable("DescribeReplicationGroups")
        return self._datastore.activity(replication_group_id, since)
