"""The planned switchover: an operator moves the writer to a chosen, in-sync secondary, with pre-checks.

Failback is never automatic. After a failover the operator runs this (``python -m tools.switchover``)
once the old region is healthy again. Every pre-check must pass before ``FailoverGlobalReplicationGroup``
is called; only the cooldown may be overridden with ``force`` (it protects against flapping, not data).
The switchover takes the promotion latch in the TARGET region's ledger, exactly as that region's promoter
does when it promotes, so the promoters' cooldown treats it like a promotion.

``evaluate_prechecks`` is pure; ``plan_switchover`` gathers observations through the adapters;
``run_switchover`` plans, then acts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gdfailover.awscall import AwsCallError
from gdfailover.clock import Clock
from gdfailover.cloudwatch import Point, ProbeSeries, WriterHealthPublisher
from gdfailover.elasticache import (
    STATUS_AVAILABLE,
    GlobalDatastore,
    GlobalDatastoreApi,
    GlobalDatastoreMember,
    MemberRole,
    WaitResult,
    WaitStatus,
    wait_until_primary,
)
from gdfailover.evidence import ProbeMetricsReader
from gdfailover.ledger import Latch, LatchLedger

#: How far back the target's probe metrics are read; only the latest datapoint of each counts.
METRICS_LOOKBACK = timedelta(minutes=15)
#: The heartbeat is written once per probe cadence (30 s by default), so an in-sync replica reads an age
#: between 0 and cadence + lag depending on when its own probe runs: 10 s would fail healthy pairs.
DEFAULT_MAX_LAG_SECONDS = 40.0
#: Same default as the promoter's LOCAL_HEALTH_MAX_AGE_SECONDS: per-minute datapoints plus the EMF delay.
DEFAULT_MAX_METRIC_AGE = timedelta(seconds=300)
#: Same default as the promoter's COOLDOWN_MINUTES.
DEFAULT_COOLDOWN = timedelta(minutes=60)
DEFAULT_WAIT_SECONDS = 600.0
POLL_INTERVAL_SECONDS = 5.0
#: A member's status once it replicates within the datastore (DescribeGlobalReplicationGroups Members[].Status).
MEMBER_ASSOCIATED = "associated"


@dataclass(frozen=True, slots=True)
class SwitchoverRequest:
    global_replication_group_id: str
    target_region: str
    target_replication_group_id: str
    max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS
    max_metric_age: timedelta = DEFAULT_MAX_METRIC_AGE
    cooldown: timedelta = DEFAULT_COOLDOWN
    force: bool = False
    operator: str = "operator"


@dataclass(frozen=True, slots=True)
class Observations:
    """What the pre-checks look at; a failed read is kept as its error message."""

    gathered_at: datetime
    datastore: GlobalDatastore | None
    datastore_error: str | None
    series: ProbeSeries | None
    metrics_error: str | None
    latch: Latch | None
    ledger_error: str | None

    @property
    def unreadable(self) -> bool:
        """An AWS call failed: the pre-checks that depend on it say nothing about the datastore."""
        return any(error is not None for error in (self.datastore_error, self.metrics_error, self.ledger_error))


@dataclass(frozen=True, slots=True)
class PreCheck:
    name: str
    passed: bool
    message: str
    forceable: bool = False

    def blocks(self, force: bool) -> bool:
        return not self.passed and not (self.forceable and force)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message, "forceable": self.forceable}


@dataclass(frozen=True, slots=True)
class SwitchoverPlan:
    request: SwitchoverRequest
    observations: Observations
    checks: tuple[PreCheck, ...]
    already_primary: bool
    current_primary: str | None  # "<replication group> (<region>)" of the writer to demote

    @property
    def blocking(self) -> tuple[PreCheck, ...]:
        return tuple(check for check in self.checks if check.blocks(self.request.force))

    @property
    def ready(self) -> bool:
        return not self.already_primary and not self.blocking

    def describe(self) -> str:
        request = self.request
        target = f"{request.target_replication_group_id} ({request.target_region})"
        lines = [
            f"planned switchover of {request.global_replication_group_id}: {self.current_primary or '?'} -> {target}"
        ]
        datastore = self.observations.datastore
        if datastore is not None:
            lines.append(
                "  members: "
                + ", ".join(f"{m.replication_group_id} ({m.region}) {m.role} {m.status}" for m in datastore.members)
            )
        for check in self.checks:
            mark = "ok  " if check.passed else ("FORCED" if check.forceable and request.force else "FAIL")
            lines.append(f"  [{mark}] {check.name}: {check.message}")
        if self.already_primary:
            lines.append(f"nothing to do: {target} is already PRIMARY")
        elif self.ready:
            lines.append(
                f"plan: take the promotion latch (cooldown {request.cooldown}), "
                f"FailoverGlobalReplicationGroup(PrimaryRegion={request.target_region}, "
                f"PrimaryReplicationGroupId={request.target_replication_group_id}), wait until PRIMARY"
            )
        else:
            lines.append(f"refused: {', '.join(check.name for check in self.blocking)} failed")
        return "\n".join(lines)


class SwitchoverOutcome(StrEnum):
    NOTHING_TO_DO = "nothing-to-do"
    DRY_RUN = "dry-run"
    PRECHECK_FAILED = "precheck-failed"
    SWITCHED = "switched"
    UNCONFIRMED = "unconfirmed"  # accepted, not PRIMARY within the wait
    REJECTED = "rejected"  # the failover call (or the ledger write) failed


_EXIT_CODES = {
    SwitchoverOutcome.NOTHING_TO_DO: 0,
    SwitchoverOutcome.SWITCHED: 0,
    SwitchoverOutcome.PRECHECK_FAILED: 1,
    SwitchoverOutcome.UNCONFIRMED: 2,
    SwitchoverOutcome.REJECTED: 2,
}


@dataclass(frozen=True, slots=True)
class SwitchoverResult:
    outcome: SwitchoverOutcome
    plan: SwitchoverPlan
    detail: str = ""
    wait: WaitResult | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> int:
        """0 done or nothing to do, 1 a pre-check failed, 2 an AWS error (pre-checks unreadable) or unconfirmed."""
        plan = self.plan
        blocked = not plan.ready and not plan.already_primary
        if self.outcome in (SwitchoverOutcome.DRY_RUN, SwitchoverOutcome.PRECHECK_FAILED) and blocked:
            return 2 if plan.observations.unreadable else 1
        if self.outcome == SwitchoverOutcome.DRY_RUN:
            return 0
        return _EXIT_CODES[self.outcome]

    def describe(self) -> str:
        result = f"result: {self.outcome.value}" + (f" - {self.detail}" if self.detail else "")
        return "\n".join((self.plan.describe(), *self.notes, result))


# --- pure pre-checks ---------------------------------------------------------------------------------
def evaluate_prechecks(observations: Observations, request: SwitchoverRequest) -> tuple[PreCheck, ...]:
    """Every pre-check, in order, each with a message an operator can act on (none short-circuits)."""
    return (
        _check_datastore_available(observations),
        _check_target_secondary(observations, request),
        _check_replica_reachable(observations, request),
        _check_heartbeat_age(observations, request),
        _check_replication_link(observations, request),
        _check_cooldown(observations, request),
        _check_other_secondaries(observations, request),
    )


def _check_datastore_available(observations: Observations) -> PreCheck:
    name = "datastore-available"
    datastore = observations.datastore
    if datastore is None:
        return PreCheck(name, False, f"cannot describe the Global Datastore: {observations.datastore_error}")
    if datastore.status != STATUS_AVAILABLE:
        return PreCheck(name, False, f"status is {datastore.status}; FailoverGlobalReplicationGroup needs it available")
    return PreCheck(name, True, "status available")


def _check_target_secondary(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    name = "target-is-secondary"
    datastore = observations.datastore
    if datastore is None:
        return PreCheck(name, False, "unknown: the Global Datastore could not be described")
    member = datastore.member(request.target_replication_group_id)
    if member is None or member.region != request.target_region:
        members = ", ".join(f"{m.replication_group_id} ({m.region})" for m in datastore.members) or "none"
        return PreCheck(
            name,
            False,
            f"{request.target_replication_group_id} in {request.target_region} is not a member (members: {members})",
        )
    if member.role == MemberRole.PRIMARY:
        return PreCheck(name, True, "already PRIMARY")
    primary = datastore.primary
    if member.role != MemberRole.SECONDARY or primary is None:
        return PreCheck(name, False, f"role is {member.role} and the PRIMARY is {primary}: not a planned switchover")
    return PreCheck(name, True, f"SECONDARY of {primary.replication_group_id} ({primary.region})")


def _latest(points: tuple[Point, ...]) -> Point | None:
    return max(points) if points else None


def _metric_problem(
    observations: Observations, request: SwitchoverRequest, points: tuple[Point, ...], metric: str
) -> tuple[Point | None, str | None]:
    """The latest datapoint of a probe metric, or why it cannot be used."""
    if observations.series is None:
        return None, f"cannot read the target's probe metrics: {observations.metrics_error}"
    latest = _latest(points)
    if latest is None:
        return None, f"no {metric} datapoint in the last {METRICS_LOOKBACK}: is the target's probe running?"
    age = (observations.gathered_at - latest[0]).total_seconds()
    limit = request.max_metric_age.total_seconds()
    if age > limit:
        return latest, f"latest {metric} datapoint is {age:.0f}s old (limit {limit:.0f}s): is the probe running?"
    return latest, None


def _check_replica_reachable(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    name = "target-replica-reachable"
    series = observations.series
    latest, problem = _metric_problem(observations, request, series.reachable if series else (), "Reachable")
    if problem is not None or latest is None:
        return PreCheck(name, False, problem or "")
    if latest[1] < 1:
        return PreCheck(name, False, f"the target's replica did not answer its probe (Reachable {latest[1]:g})")
    return PreCheck(name, True, f"Reachable 1 at {latest[0].isoformat()}")


def _check_heartbeat_age(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    name = "writer-heartbeat-recent"
    series = observations.series
    latest, problem = _metric_problem(observations, request, series.heartbeat_age if series else (), "HeartbeatAge")
    if problem is not None or latest is None:
        return PreCheck(name, False, problem or "")
    if latest[1] > request.max_lag_seconds:
        return PreCheck(
            name,
            False,
            f"the writer's heartbeat seen on the target is {latest[1]:g}s old (limit {request.max_lag_seconds:g}s): "
            "the target is behind, switching now would lose writes",
        )
    return PreCheck(name, True, f"HeartbeatAge {latest[1]:g}s (limit {request.max_lag_seconds:g}s)")


def _check_replication_link(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    name = "replication-link-up"
    series = observations.series
    latest, problem = _metric_problem(
        observations, request, series.replication_link_up if series else (), "ReplicationLinkUp"
    )
    if problem is not None or latest is None:
        return PreCheck(name, False, problem or "")
    if latest[1] < 1:
        return PreCheck(
            name,
            False,
            "the target's replica lost its link to the writer during the last minute (ReplicationLinkUp "
            f"{latest[1]:g}): it may be behind",
        )
    return PreCheck(name, True, f"ReplicationLinkUp 1 at {latest[0].isoformat()}")


def _check_cooldown(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    name = "no-active-latch"
    if observations.ledger_error is not None:
        return PreCheck(name, False, f"cannot read the promotion ledger: {observations.ledger_error}", forceable=True)
    latch = observations.latch
    if latch is not None and latch.active(observations.gathered_at):
        return PreCheck(
            name,
            False,
            f"the target region was made the writer by {latch.holder} at {latch.taken_at.isoformat()} "
            f"({latch.outcome or 'no outcome'}) and the latch holds until {latch.latched_until.isoformat()}: "
            "it has lost the writer role since, which looks like flapping. Find out why first; --force "
            "switches anyway and leaves that latch (and its cooldown) in place",
            forceable=True,
        )
    if latch is not None:
        return PreCheck(name, True, f"last latch expired at {latch.latched_until.isoformat()}", forceable=True)
    return PreCheck(name, True, "no promotion latch in the target region's ledger", forceable=True)


def _check_other_secondaries(observations: Observations, request: SwitchoverRequest) -> PreCheck:
    """Three regions: the secondary that is not the target follows the new primary; it must be associated.

    Not a data-safety check on the target (hence forceable): a member that is associating or
    disassociating may be left behind, and the operator should know before, not after.
    """
    name = "other-secondaries"
    datastore = observations.datastore
    if datastore is None:
        return PreCheck(name, False, "unknown: the Global Datastore could not be described", forceable=True)
    others = other_secondaries(datastore, request)
    if not others:
        return PreCheck(name, True, "none (two regions)", forceable=True)
    report = "; ".join(f"{m.replication_group_id} ({m.region}) {m.role} {m.status}" for m in others)
    unsettled = [m for m in others if m.status != MEMBER_ASSOCIATED]
    if unsettled:
        return PreCheck(
            name,
            False,
            f"{report}: not every other member is {MEMBER_ASSOCIATED}, so it may not follow the new primary; "
            "wait for it (or --force)",
            forceable=True,
        )
    return PreCheck(name, True, f"{report}: will replicate from the new primary", forceable=True)


def other_secondaries(datastore: GlobalDatastore, request: SwitchoverRequest) -> tuple[GlobalDatastoreMember, ...]:
    """Members that are neither the target nor the current PRIMARY (one in a three-region datastore)."""
    primary = datastore.primary
    return tuple(
        member
        for member in datastore.members
        if member.replication_group_id != request.target_replication_group_id
        and (primary is None or member.replication_group_id != primary.replication_group_id)
    )


# --- gathering and acting ----------------------------------------------------------------------------
def plan_switchover(
    request: SwitchoverRequest,
    *,
    datastores: GlobalDatastoreApi,
    probe_metrics: ProbeMetricsReader,
    ledger: LatchLedger,
    clock: Clock,
) -> SwitchoverPlan:
    """Read the datastore, the TARGET region's probe metrics and ledger; evaluate the pre-checks."""
    now = clock.now()
    datastore: GlobalDatastore | None = None
    datastore_error: str | None = None
    try:
        datastore = datastores.describe(request.global_replication_group_id)
    except AwsCallError as error:
        datastore_error = str(error)
    series: ProbeSeries | None = None
    metrics_error: str | None = None
    try:
        series = probe_metrics.series(request.target_replication_group_id, now, METRICS_LOOKBACK)
    except AwsCallError as error:
        metrics_error = str(error)
    latch: Latch | None = None
    ledger_error: str | None = None
    try:
        latch = ledger.read(request.global_replication_group_id)
    except AwsCallError as error:
        ledger_error = str(error)
    observations = Observations(now, datastore, datastore_error, series, metrics_error, latch, ledger_error)
    target = datastore.member(request.target_replication_group_id) if datastore else None
    primary = datastore.primary if datastore else None
    return SwitchoverPlan(
        request=request,
        observations=observations,
        checks=evaluate_prechecks(observations, request),
        already_primary=target is not None
        and target.region == request.target_region
        and target.role == MemberRole.PRIMARY,
        current_primary=f"{primary.replication_group_id} ({primary.region})" if primary else None,
    )


def run_switchover(
    request: SwitchoverRequest,
    *,
    datastores: GlobalDatastoreApi,
    probe_metrics: ProbeMetricsReader,
    ledger: LatchLedger,
    clock: Clock,
    dry_run: bool = False,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    writer_health: WriterHealthPublisher | None = None,
) -> SwitchoverResult:
    plan = plan_switchover(request, datastores=datastores, probe_metrics=probe_metrics, ledger=ledger, clock=clock)
    if plan.already_primary:
        return SwitchoverResult(SwitchoverOutcome.NOTHING_TO_DO, plan)
    if dry_run:
        return SwitchoverResult(SwitchoverOutcome.DRY_RUN, plan, "no change made")
    if plan.blocking:
        return SwitchoverResult(SwitchoverOutcome.PRECHECK_FAILED, plan, "no change made")

    return _switch(
        plan,
        datastores=datastores,
        ledger=ledger,
        clock=clock,
        wait_seconds=wait_seconds,
        poll_interval_seconds=poll_interval_seconds,
        writer_health=writer_health,
    )


def _switch(
    plan: SwitchoverPlan,
    *,
    datastores: GlobalDatastoreApi,
    ledger: LatchLedger,
    clock: Clock,
    wait_seconds: float,
    poll_interval_seconds: float,
    writer_health: WriterHealthPublisher | None = None,
) -> SwitchoverResult:
    request = plan.request
    group = request.global_replication_group_id
    now = clock.now()
    holder = f"switchover by {request.operator} at {now.isoformat()}"
    notes: list[str] = []
    latch_held, refusal = _take_latch(plan, ledger, holder, now, notes)
    if refusal is not None:
        return refusal
    try:
        datastores.failover(group, request.target_region, request.target_replication_group_id)
    except AwsCallError as error:
        if latch_held:
            _quietly(notes, "releasing the latch", lambda: ledger.release(group, holder))
        return SwitchoverResult(SwitchoverOutcome.REJECTED, plan, str(error), notes=tuple(notes))
    if writer_health is not None:
        # As the promoter does: the target's writer alarm turns OK at its next evaluation, so DNS moves
        # while the switch completes; clients still on the old writer keep writing until it is demoted.
        _quietly(
            notes,
            "announcing the new writer (HealthCheckStatus 1)",
            lambda: writer_health.promoting(request.target_replication_group_id),
        )
    wait = wait_until_primary(
        datastores,
        group,
        request.target_replication_group_id,
        clock=clock,
        timeout_seconds=wait_seconds,
        interval_seconds=poll_interval_seconds,
    )
    switched = wait.status == WaitStatus.PRIMARY
    outcome_text = (
        f"switchover: PRIMARY after {wait.waited_seconds:.0f}s"
        if switched
        else f"switchover: accepted, not PRIMARY after {wait.waited_seconds:.0f}s"
    )
    if latch_held:
        _quietly(notes, "recording the outcome", lambda: ledger.record_outcome(group, holder, outcome_text))
    if switched:
        return SwitchoverResult(SwitchoverOutcome.SWITCHED, plan, outcome_text, wait, tuple(notes))
    return SwitchoverResult(
        SwitchoverOutcome.UNCONFIRMED,
        plan,
        f"{outcome_text} ({wait.polls} polls, last error {wait.last_error}): check the console",
        wait,
        tuple(notes),
    )


def _take_latch(
    plan: SwitchoverPlan, ledger: LatchLedger, holder: str, now: datetime, notes: list[str]
) -> tuple[bool, SwitchoverResult | None]:
    """Take the target region's promotion latch, as its promoter would: (taken, refusal if we must stop)."""
    request = plan.request
    try:
        attempt = ledger.acquire(request.global_replication_group_id, holder, now, request.cooldown)
    except AwsCallError as error:
        if not request.force:
            detail = f"cannot take the promotion latch, no change made: {error}"
            return False, SwitchoverResult(SwitchoverOutcome.REJECTED, plan, detail)
        notes.append(f"forced: switching without recording it in the ledger ({error})")
        return False, None
    if attempt.acquired:
        return True, None
    held = attempt.latch.as_dict() if attempt.latch else "unknown"
    if not request.force:
        # Someone (the target's promoter, another operator) took it between the read and now.
        detail = f"the promotion latch was taken meanwhile: {held}; no change made"
        return False, SwitchoverResult(SwitchoverOutcome.PRECHECK_FAILED, plan, detail)
    notes.append(f"forced: the existing latch stays in place ({held})")
    return False, None


def _quietly(notes: list[str], what: str, step: Callable[[], None]) -> None:
    """A ledger bookkeeping failure after the failover must not hide the failover's result."""
    try:
        step()
    except AwsCallError as error:
        notes.append(f"{what} failed: {error}")
