"""Orchestration: evidence -> decision -> (latch -> failover -> wait) -> decision record.

Everything it touches is a parameter (evidence sources, the acting adapters, the clock, the
deadline), so the unit tests, the moto tests and the local drill run the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import AwsCallError, ErrorKind
from gdfailover.clock import Clock
from gdfailover.cloudwatch import WriterHealthPublisher
from gdfailover.config import PromoteSettings
from gdfailover.decision import PAUSED, Decision, Outcome, Policy, decide, should_break_glass
from gdfailover.elasticache import (
    GlobalDatastoreApi,
    WaitResult,
    WaitStatus,
    wait_until_detached,
    wait_until_primary,
)
from gdfailover.evidence import CallFailure, Evidence, EvidenceSources, gather_evidence
from gdfailover.ledger import LatchLedger
from gdfailover.signals import DIM_DECISION, PROMOTION_DECISION

#: Worst case of one evidence round (bounded clients, peer calls in parallel): budget for a retry.
EVIDENCE_ROUND_SECONDS = 15.0
#: Poll interval while waiting for this member to become PRIMARY.
POLL_INTERVAL_SECONDS = 5.0
#: While the promotion runs, HealthCheckStatus 1 is published again this often: the writer alarm reads
#: Maximum per minute, so a slow promotion (the old region unreachable) keeps this record healthy instead of
#: falling back to the dead writer's record a minute after the first datapoint.
REANNOUNCE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One per notification: what was seen, what was decided, what was done, how long it took."""

    settings: PromoteSettings
    decision: Decision
    evidence: Evidence
    attempts: int
    hold_history: tuple[str, ...]
    action: dict[str, Any]
    started_at: datetime
    duration_ms: float

    @property
    def subject(self) -> str:
        where = f"{self.settings.replication_group_id} ({self.settings.region})"
        outcome = self.decision.outcome
        if outcome == Outcome.PROMOTE and not self.decision.act:
            return f"gds-failover {self.settings.mode.upper()}: would promote {where} [{self.decision.code}]"
        if outcome == Outcome.PROMOTE:
            return f"gds-failover PROMOTED {where}: {self.action.get('result', '?')}"
        return f"gds-failover {outcome.value.upper()} for {where}: {self.decision.code}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.outcome.value,
            "code": self.decision.code,
            "reasons": list(self.decision.reasons),
            "mode": self.settings.mode,
            "acted": self.action.get("taken", "none") != "none",
            "would_promote": self.decision.outcome == Outcome.PROMOTE,
            "rpo_estimate_seconds": self.decision.rpo_seconds,
            "global_replication_group_id": self.settings.global_replication_group_id,
            "replication_group_id": self.settings.replication_group_id,
            "region": self.settings.region,
            "attempts": self.attempts,
            "hold_history": list(self.hold_history),
            "action": self.action,
            "evidence": self.evidence.as_dict(),
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration_ms, 1),
        }


class Promoter:
    def __init__(
        self,
        *,
        settings: PromoteSettings,
        policy: Policy,
        sources: EvidenceSources,
        datastores: GlobalDatastoreApi,
        ledger: LatchLedger,
        clock: Clock,
        writer_health: WriterHealthPublisher | None = None,
    ) -> None:
        self._writer_health = writer_health
        self._settings = settings
        self._policy = policy
        self._sources = sources
        self._datastores = datastores
        self._ledger = ledger
        self._clock = clock

    def run(self, notification: AlarmNotification, deadline: float) -> DecisionRecord:
        """Decide (re-deciding transient holds while time allows) and act; ``deadline`` is monotonic."""
        started_at, started = self._clock.now(), self._clock.monotonic()
        holds: list[str] = []
        holds_counted = 0  # holds with their own retry_after (waiting for a rival) are bounded by time
        attempt = 0
        while True:
            attempt += 1
            evidence = gather_evidence(notification, self._settings, self._sources, self._clock)
            decision = decide(evidence, self._policy)
            action: dict[str, Any] = {"taken": "none"}
            if decision.outcome == Outcome.PROMOTE and decision.act:
                decision, action = self._act(notification, evidence, decision, deadline)
            if not self._retry_worthwhile(decision, holds_counted + 1, deadline):
                break
            holds.append(decision.code)
            if decision.retry_after is None:
                holds_counted += 1
            self._clock.sleep(self._hold_delay(decision))
        return DecisionRecord(
            settings=self._settings,
            decision=decision,
            evidence=evidence,
            attempts=attempt,
            hold_history=tuple(holds),
            action=action,
            started_at=started_at,
            duration_ms=(self._clock.monotonic() - started) * 1000.0,
        )

    def act(
        self, notification: AlarmNotification, evidence: Evidence, decision: Decision, deadline: float
    ) -> tuple[Decision, dict[str, Any]]:
        """Carry out a promotion exactly as an automatic one (latch, failover, announce, wait, ledger outcome);
        ``make promote`` (tools/promote.py) calls it with an operator's decision."""
        return self._act(notification, evidence, decision, deadline)

    def _retry_worthwhile(self, decision: Decision, attempt: int, deadline: float) -> bool:
        if decision.outcome != Outcome.HOLD or not decision.transient:
            return False
        if decision.retry_after is not None:
            # waiting out a preferred rival's grace: bounded by the succession grace (max 300 s) and by
            # the deadline, leaving the failover wait its room; not counted against HOLD_RETRY_ATTEMPTS
            needed = self._hold_delay(decision) + EVIDENCE_ROUND_SECONDS + self._settings.failover_wait_seconds
            return deadline - self._clock.monotonic() > needed
        if attempt >= self._settings.hold_retry_attempts:
            return False
        needed = self._settings.hold_retry_delay_seconds + EVIDENCE_ROUND_SECONDS
        return deadline - self._clock.monotonic() > needed

    def _hold_delay(self, decision: Decision) -> float:
        if decision.retry_after is not None:
            return max(1.0, decision.retry_after.total_seconds())
        return float(self._settings.hold_retry_delay_seconds)

    def _act(
        self, notification: AlarmNotification, evidence: Evidence, decision: Decision, deadline: float
    ) -> tuple[Decision, dict[str, Any]]:
        settings = self._settings
        group = settings.global_replication_group_id
        holder = notification.message_id
        try:
            latch = self._ledger.acquire(group, holder, self._clock.now(), self._policy.cooldown)
        except AwsCallError as error:
            return _demote(decision, "ledger-write-failed", f"cannot take the promotion latch: {error}", error), {
                "taken": "none"
            }
        if not latch.acquired:
            held = latch.latch.as_dict() if latch.latch else {}
            reason = f"another invocation holds the promotion latch: {held}"
            return replace(decision, outcome=Outcome.REFUSE, code="cooldown", reasons=(reason,), act=False), {
                "taken": "none",
                "latch": held,
            }

        failover_started = self._clock.monotonic()
        action: dict[str, Any] = {
            "taken": "failover",
            "latch": latch.latch.as_dict() if latch.latch else None,
        }
        failover_failure: CallFailure | None = None
        wait: WaitResult | None = None
        try:
            self._datastores.failover(group, settings.region, settings.replication_group_id)
        except AwsCallError as error:
            failover_failure = CallFailure.of(error)
            action |= {"result": "rejected", "error": error.as_dict()}
        else:
            action["health_datapoint"] = self._announce_writer()
            wait = wait_until_primary(
                self._datastores,
                group,
                settings.replication_group_id,
                clock=self._clock,
                timeout_seconds=self._wait_budget(deadline),
                interval_seconds=POLL_INTERVAL_SECONDS,
                on_poll=self._reannouncer() if action["health_datapoint"] == "published" else None,
            )
            action |= {
                "result": "primary" if wait.status == WaitStatus.PRIMARY else "unconfirmed",
                "wait": wait.as_dict(),
            }
        action["failover_ms"] = round((self._clock.monotonic() - failover_started) * 1000.0, 1)

        became_primary = wait is not None and wait.status == WaitStatus.PRIMARY
        glass, glass_reason = should_break_glass(evidence, self._policy, failover_failure, became_primary)
        action["break_glass"] = {"used": glass, "reason": glass_reason}
        if glass:
            return self._break_glass(decision, action, holder, deadline)

        if failover_failure is not None:
            self._release_quietly(group, holder, action)
            code = "failover-denied" if failover_failure.kind == ErrorKind.ACCESS_DENIED else "failover-rejected"
            reason = f"FailoverGlobalReplicationGroup rejected: {failover_failure} {failover_failure.message}"
            return _demote(decision, code, reason, failover_failure), action
        assert wait is not None
        self._record_outcome_quietly(group, holder, f"failover {action['result']}", action)
        if became_primary:
            return replace(decision, reasons=(*decision.reasons, f"PRIMARY after {wait.waited_seconds:.0f}s")), action
        return (
            replace(
                decision,
                code="promote-unconfirmed",
                reasons=(
                    *decision.reasons,
                    f"FailoverGlobalReplicationGroup accepted but {settings.replication_group_id} was not "
                    f"PRIMARY after {wait.waited_seconds:.0f}s ({wait.polls} polls): check the console; "
                    "the latch stays",
                ),
            ),
            action,
        )

    def _break_glass(
        self, decision: Decision, action: dict[str, Any], holder: str, deadline: float
    ) -> tuple[Decision, dict[str, Any]]:
        settings = self._settings
        group = settings.global_replication_group_id
        try:
            self._datastores.disassociate(group, settings.replication_group_id, settings.region)
        except AwsCallError as error:
            action["break_glass"] |= {"result": "rejected", "error": error.as_dict()}
            self._record_outcome_quietly(group, holder, "break-glass disassociate rejected", action)
            return _demote(
                decision, "break-glass-failed", f"DisassociateGlobalReplicationGroup: {error}", error
            ), action
        wait = wait_until_detached(
            self._datastores,
            group,
            settings.replication_group_id,
            clock=self._clock,
            timeout_seconds=self._wait_budget(deadline),
            interval_seconds=POLL_INTERVAL_SECONDS,
        )
        detached = wait.status == WaitStatus.DETACHED
        action["break_glass"] |= {"result": "detached" if detached else "unconfirmed", "wait": wait.as_dict()}
        self._record_outcome_quietly(group, holder, f"break-glass {action['break_glass']['result']}", action)
        reason = (
            f"break-glass: {settings.replication_group_id} left the datastore and is a standalone writer"
            if detached
            else f"break-glass: disassociate requested, not confirmed after {wait.waited_seconds:.0f}s"
        )
        code = "promote-break-glass" if detached else "promote-unconfirmed"
        return replace(decision, code=code, reasons=(*decision.reasons, reason)), action

    def _announce_writer(self) -> str:
        """ElastiCache accepted the failover: tell the writer alarm now (HealthCheckStatus 1), so Route 53
        moves redis.internal here while the promotion completes instead of a healthy minute after it.
        Clients reaching this region before it completes get READONLY and retry; if the promotion
        failed, the next probes publish 0 and the record turns unhealthy within a minute."""
        if self._writer_health is None or not self._settings.publish_health_on_promotion:
            return "off"
        try:
            self._writer_health.promoting(self._settings.replication_group_id)
        except AwsCallError as error:
            return f"failed: {error}"
        return "published"

    def _reannouncer(self) -> Callable[[], None]:
        last = self._clock.monotonic()

        def reannounce() -> None:
            nonlocal last
            if self._clock.monotonic() - last >= REANNOUNCE_SECONDS:
                last = self._clock.monotonic()
                self._announce_writer()

        return reannounce

    def _wait_budget(self, deadline: float) -> float:
        return max(0.0, min(float(self._settings.failover_wait_seconds), deadline - self._clock.monotonic()))

    def _release_quietly(self, group: str, holder: str, action: dict[str, Any]) -> None:
        try:
            self._ledger.release(group, holder)
            action["latch_released"] = True
        except AwsCallError as error:
            action["latch_released"] = f"failed: {error}"

    def _record_outcome_quietly(self, group: str, holder: str, outcome: str, action: dict[str, Any]) -> None:
        try:
            self._ledger.record_outcome(group, holder, outcome)
        except AwsCallError as error:
            action["ledger_update"] = f"failed: {error}"


def _demote(decision: Decision, code: str, reason: str, failure: AwsCallError | CallFailure) -> Decision:
    """A promotion that could not be carried out: hold when the cause is transient, else refuse."""
    transient = failure.kind.transient
    return replace(
        decision,
        outcome=Outcome.HOLD if transient else Outcome.REFUSE,
        code=code,
        reasons=(*decision.reasons, reason),
        act=False,
        transient=transient,
    )


class DecisionMetrics(Protocol):
    """The part of Powertools ``Metrics`` the publisher uses."""

    def add_dimension(self, name: str, value: str) -> None: ...
    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = ...) -> None: ...
    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None: ...


#: The decisions that page the operators (the operator topic). A noop or a hold is a wake-up that did not
#: pan out (a lost probe, a stall, a failover inside the writer's region): logged and counted, nobody paged.
NOTIFIED_OUTCOMES: frozenset[Outcome] = frozenset({Outcome.PROMOTE, Outcome.REFUSE})


class Notifier(Protocol):
    def publish(self, subject: str, record: dict[str, Any]) -> None: ...


@dataclass
class DecisionPublisher:
    """Writes the decision record: one structured log line, one metric, one operator notification."""

    log: Callable[[str, dict[str, Any]], None]
    metrics: DecisionMetrics
    notifier: Notifier | None = None
    warn: Callable[[str, dict[str, Any]], None] = field(default=lambda message, extra: None)
    #: A ``paused`` hold pages once per pause: True when this record is the first for its pause (the
    #: ledger's conditional write); None pages every paused hold.
    pause_notice: Callable[[DecisionRecord], bool] | None = None

    def publish(self, record: DecisionRecord) -> dict[str, Any]:
        document = record.as_dict()
        self.log(f"promotion decision: {record.decision.outcome.value} ({record.decision.code})", document)
        self.count(record.decision.outcome.value)
        # A page for what needs a human or tells them what was done: a promotion (or would-be one) and a
        # refusal (NOTIFIED_OUTCOMES). A noop or a hold is a wake-up that did not pan out (a lost probe, a
        # stall, a failover inside the writer's region): logged and counted, nobody paged. A hold because an
        # operator paused automatic promotion pages once per pause: someone must decide, and they are told once.
        if self.notifier is not None and (
            record.decision.outcome in NOTIFIED_OUTCOMES or self._first_pause_notice(record)
        ):
            try:
                self.notifier.publish(record.subject, document)
            except AwsCallError as error:
                self.warn("operator notification failed", {"error": error.as_dict()})
                document["operator_notification"] = f"failed: {error}"
        return document

    def _first_pause_notice(self, record: DecisionRecord) -> bool:
        if record.decision.code != PAUSED:
            return False
        if self.pause_notice is None:
            return True
        try:
            return self.pause_notice(record)
        except AwsCallError as error:  # better a second page than none
            self.warn("pause notice bookkeeping failed: paging anyway", {"error": error.as_dict()})
            return True

    def count(self, outcome: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        self.metrics.add_dimension(name=DIM_DECISION, value=outcome)
        self.metrics.add_metric(name=PROMOTION_DECISION, unit=MetricUnit.Count, value=1)
        self.metrics.flush_metrics()
