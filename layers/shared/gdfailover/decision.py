"""The promotion decision: evidence + policy -> promote / hold / refuse / noop, with reasons.

Pure: no AWS, no clock (``evidence.gathered_at`` is "now"), no logging. Each outcome carries a
stable ``code`` (dashboards, tests) and human reasons (the decision record, the operator's page).

- ``noop``: nothing to decide (not our alarm, not ALARM, stale, this region already writes).
- ``hold``: not now, and the cause is transient (throttling, datastore modifying, views disagree);
  the promoter asks again a bounded number of times.
- ``refuse``: promoting would be wrong or unsafe without a human (writer alive, local replica
  unhealthy, lag above the gate, cooldown, no independent confirmation).
- ``promote``: this region should become the writer; ``act`` is False in notify and dry-run modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from gdfailover.awscall import ErrorKind
from gdfailover.config import PromoteSettings
from gdfailover.elasticache import STATUS_AVAILABLE, STATUS_MODIFYING, MemberRole
from gdfailover.evidence import CallFailure, Evidence, Vote, WriterSignal
from gdfailover.succession import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_PRIORITY,
    Candidacy,
    Situation,
    SuccessionSettings,
    Verdict,
    decide_succession,
)

#: A StateChangeTime this far in the future is clock skew we tolerate; further is a forgery or a bug.
FUTURE_TOLERANCE = timedelta(seconds=60)
#: While this replica's replication link is still up, hold this long after the notification before
#: calling the writer alive: a writer that vanished without closing its connections (a lost region, a
#: hung process) is noticed by the replica only after repl-timeout (60 s, Redis's default; assumption
#: for ElastiCache, which does not expose it) plus one probe and its metric delay.
LINK_UP_GRACE = timedelta(seconds=90)
#: When the writer region's APIs do not answer, a vantage outside both regions must agree before this
#: region promotes. Route 53's view follows the writer alarm one to three minutes late (a minute period,
#: its evaluation, the checkers' own lag): a "healthy" or a silence from it is re-asked this long after the
#: alarm before the promoter refuses.
OUTSIDE_CONFIRMATION_HOLD = timedelta(seconds=180)
#: An operator paused automatic promotion (``make pause``): a hold that is not re-checked (a pause ends by a
#: human's ``make resume`` or its expiry, not within the promoter's re-check window) and pages once per pause.
PAUSED = "paused"


class Outcome(StrEnum):
    PROMOTE = "promote"
    HOLD = "hold"
    REFUSE = "refuse"
    NOOP = "noop"


@dataclass(frozen=True, slots=True)
class Policy:
    account_id: str
    region: str
    replication_group_id: str
    trigger_alarm_names: frozenset[str]
    mode: str = "auto"
    cooldown: timedelta = timedelta(minutes=60)
    max_lag_seconds: float = 120.0
    max_notification_age: timedelta = timedelta(seconds=600)
    local_health_max_age: timedelta = timedelta(seconds=300)
    peer_writer_alarm_name: str | None = None
    break_glass_disassociate: bool = False
    #: HeartbeatAge that fires the trigger; a later datapoint below it means the writer is back
    heartbeat_threshold_seconds: float | None = None
    #: Hold this long after a Multi-AZ failover began in the writer's region before promoting across regions
    in_region_failover_grace: timedelta = timedelta(seconds=120)
    #: While the writer region's APIs answer, no promotion before the writer was unavailable this long
    in_region_ceiling: timedelta = timedelta(seconds=120)
    #: Seconds between two holds that wait on time (the ceiling, an outside vantage)
    recheck: timedelta = timedelta(seconds=20)
    #: Three regions: this region's PromotionPriority and how long it waits for a preferred rival
    priority: int = DEFAULT_PRIORITY
    succession_grace: timedelta = timedelta(seconds=DEFAULT_GRACE_SECONDS)

    @classmethod
    def from_settings(
        cls, settings: PromoteSettings, account_id: str, succession: SuccessionSettings | None = None
    ) -> Policy:
        succession = succession or SuccessionSettings()
        return cls(
            account_id=account_id,
            region=settings.region,
            replication_group_id=settings.replication_group_id,
            trigger_alarm_names=frozenset(settings.trigger_alarm_names),
            mode=settings.mode,
            cooldown=timedelta(minutes=settings.cooldown_minutes),
            max_lag_seconds=settings.max_lag_seconds,
            max_notification_age=timedelta(seconds=settings.max_notification_age_seconds),
            local_health_max_age=timedelta(seconds=settings.local_health_max_age_seconds),
            peer_writer_alarm_name=settings.peer_writer_alarm_name,
            break_glass_disassociate=settings.break_glass_disassociate,
            heartbeat_threshold_seconds=settings.heartbeat_threshold_seconds,
            in_region_failover_grace=timedelta(seconds=settings.in_region_failover_grace_seconds),
            in_region_ceiling=timedelta(seconds=settings.in_region_ceiling_seconds),
            recheck=timedelta(seconds=max(1, settings.hold_retry_delay_seconds)),
            priority=succession.priority,
            succession_grace=succession.grace,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    code: str
    reasons: tuple[str, ...]
    act: bool = False  # promote and mode auto: call FailoverGlobalReplicationGroup
    transient: bool = False  # a hold worth re-evaluating without a human
    rpo_seconds: float | None = None
    #: a hold that knows when looking again can change the answer (waiting for a preferred rival)
    retry_after: timedelta | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "code": self.code,
            "reasons": list(self.reasons),
            "act": self.act,
            "transient": self.transient,
            "rpo_seconds": self.rpo_seconds,
            "retry_after_seconds": self.retry_after.total_seconds() if self.retry_after is not None else None,
        }


def decide(evidence: Evidence, policy: Policy) -> Decision:
    checks = (
        _check_notification_source,
        _check_notification_state,
        _check_datastore,
        _check_cooldown,
        _check_local_replica,
        _check_writer_recovered,
        _check_paused,
        _check_replication_link,
        _check_writer_confirmed,
        _check_in_region_ceiling,
        _check_lag,
    )
    for check in checks:
        verdict = check(evidence, policy)
        if verdict is not None:
            return verdict
    return _promote(evidence, policy)


def _noop(code: str, reason: str) -> Decision:
    return Decision(Outcome.NOOP, code, (reason,))


def _refuse(code: str, reason: str, rpo: float | None = None) -> Decision:
    return Decision(Outcome.REFUSE, code, (reason,), rpo_seconds=rpo)


def _hold(code: str, reason: str, rpo: float | None = None) -> Decision:
    return Decision(Outcome.HOLD, code, (reason,), transient=True, rpo_seconds=rpo)


def _on_failure(code: str, what: str, failure: CallFailure) -> Decision:
    if failure.kind.transient:
        return _hold(code, f"{what} unavailable for now: {failure}")
    return _refuse(code, f"{what} failed: {failure}")


def _check_notification_source(evidence: Evidence, policy: Policy) -> Decision | None:
    note = evidence.notification
    if note.account_id != policy.account_id:
        return _noop("foreign-account", f"alarm from account {note.account_id}, not {policy.account_id}")
    if note.alarm_name not in policy.trigger_alarm_names:
        return _noop("foreign-alarm", f"alarm {note.alarm_name!r} is not in TRIGGER_ALARM_NAMES")
    from_peer = note.alarm_name == policy.peer_writer_alarm_name
    expected = "a peer region" if from_peer else policy.region
    if note.region is None or (note.region == policy.region) == from_peer:
        return _noop("foreign-region", f"alarm {note.alarm_name!r} from region {note.region}, expected {expected}")
    return None


def _check_notification_state(evidence: Evidence, policy: Policy) -> Decision | None:
    note = evidence.notification
    if note.new_state != "ALARM":
        return _noop("not-alarm", f"alarm {note.alarm_name!r} went to {note.new_state}, nothing to promote")
    age = evidence.gathered_at - note.state_change_time
    if age > policy.max_notification_age:
        return _noop(
            "stale",
            f"state change at {note.state_change_time.isoformat()} is {age.total_seconds():.0f}s old "
            f"(MAX_NOTIFICATION_AGE_SECONDS {policy.max_notification_age.total_seconds():.0f})",
        )
    if -age > FUTURE_TOLERANCE:
        return _noop("future", f"state change at {note.state_change_time.isoformat()} is in the future")
    return None


def _check_datastore(evidence: Evidence, policy: Policy) -> Decision | None:
    datastore = evidence.datastore
    if datastore is None:
        failure = evidence.datastore_failure or CallFailure("DescribeGlobalReplicationGroups", ErrorKind.OTHER, "?")
        return _on_failure("datastore-unavailable", "describing the Global Datastore", failure)
    member = datastore.member(policy.replication_group_id)
    if member is None:
        return _refuse(
            "not-a-member",
            f"{policy.replication_group_id} is not a member of {datastore.global_replication_group_id}",
        )
    if member.role == MemberRole.PRIMARY:
        return _noop("already-primary", f"{policy.replication_group_id} in {policy.region} is already PRIMARY")
    if datastore.status == STATUS_MODIFYING:
        return _modifying(evidence)
    if datastore.status != STATUS_AVAILABLE:
        return _refuse("datastore-not-available", f"the Global Datastore is {datastore.status}, not available")
    return None


def _modifying(evidence: Evidence) -> Decision:
    """A modifying datastore while this region's own promotion (another notification's run) is under way
    is that promotion: nothing to decide. Otherwise wait for it to be available."""
    latch = evidence.latch
    if latch is not None and latch.active(evidence.gathered_at) and latch.holder != evidence.notification.message_id:
        return _noop(
            "promotion-in-progress",
            f"this region's promotion is under way (latch taken at {latch.taken_at.isoformat()} by "
            f"{latch.holder}); the datastore is modifying",
        )
    return _hold("datastore-modifying", "the Global Datastore is modifying; failover needs it available")


def _check_cooldown(evidence: Evidence, policy: Policy) -> Decision | None:
    if evidence.latch_failure is not None:
        return _on_failure("ledger-unavailable", "reading the promotion ledger", evidence.latch_failure)
    latch = evidence.latch
    if latch is not None and latch.active(evidence.gathered_at):
        return _refuse(
            "cooldown",
            f"promotion latch taken at {latch.taken_at.isoformat()} by {latch.holder} "
            f"holds until {latch.latched_until.isoformat()} ({latch.outcome or 'no outcome yet'})",
        )
    return None


def _check_local_replica(evidence: Evidence, policy: Policy) -> Decision | None:
    local = evidence.local
    if local.reachable is None or local.observed_at is None:
        if local.failure is not None:
            return _on_failure("local-health-unknown", "reading this region's probe metrics", local.failure)
        return _refuse("local-health-unknown", "no Reachable datapoint for this region's replica")
    age = evidence.gathered_at - local.observed_at
    if age > policy.local_health_max_age:
        return _refuse(
            "local-health-stale",
            f"this region's last Reachable datapoint is {age.total_seconds():.0f}s old: is the probe running?",
        )
    if local.reachable < 1:
        return _refuse("local-replica-down", "this region's replica does not answer: promoting it restores nothing")
    return None


def _check_writer_recovered(evidence: Evidence, policy: Policy) -> Decision | None:
    """The writer came back (a stall, an in-region failover that finished): a probe here after the alarm
    read a heartbeat younger than the trigger threshold, or the writer's own probes, which had failed,
    reach it again. Nothing to decide, nobody to page."""
    latest = evidence.recent_heartbeat_age
    threshold = policy.heartbeat_threshold_seconds
    if latest is not None and threshold is not None:
        stamp, age = latest
        if stamp > evidence.notification.state_change_time and age <= threshold:
            return _noop(
                "writer-recovered",
                f"this region's probe at {stamp.isoformat()} read the writer's heartbeat {age:.0f}s old "
                f"(threshold {threshold:g}s), after the alarm: the writer is back",
            )
    back = evidence.writer_recovered_at
    reading = next((s for s in _fresh_readings(evidence) if s.source.startswith("peer_probe@")), None)
    incident_began = evidence.notification.state_change_time - policy.in_region_ceiling
    if back is not None and reading is not None and reading.vote == Vote.ALIVE and back >= incident_began:
        return _noop(
            "writer-recovered",
            f"the writer's own probe, which had failed, reached it again at {back.isoformat()}: the writer is back "
            "(an in-region failover or a stall that ended)",
        )
    return None


def _check_paused(evidence: Evidence, policy: Policy) -> Decision | None:
    """An operator paused automatic promotion (``make pause``). After every noop (a pause never hides
    "nothing to do") and before the checks that hold and re-check: a paused promoter decides once, does not
    spin. Not transient: the pause ends by ``make resume`` or its expiry; an expired pause is ignored."""
    pause = evidence.pause
    if pause is None or not pause.active(evidence.gathered_at):
        return None
    return Decision(
        Outcome.HOLD,
        PAUSED,
        (
            f"automatic promotion is paused until {pause.until.isoformat()} by {pause.who} "
            f"(since {pause.paused_at.isoformat()}): {pause.reason}; a human decides: make promote, or make resume "
            "(docs/runbook.md)",
        ),
        rpo_seconds=evidence.lag.seconds,
    )


def _writer_region_answers(evidence: Evidence) -> bool:
    return evidence.peer_control_plane == "reachable" or any(
        signal.source.startswith("peer_probe@") and signal.vote != Vote.UNKNOWN and not signal.unreachable
        for signal in evidence.writer_signals
    )


def _check_in_region_ceiling(evidence: Evidence, policy: Policy) -> Decision | None:
    """While the writer region's APIs answer, a writer that has been unavailable for less than the
    in-region ceiling may be a Multi-AZ failover in flight: ElastiCache shows the group ``available``
    throughout and names the failover in an event only once it is over. Promoting across regions now
    would lose data for nothing, so hold until the ceiling, whatever DescribeEvents shows; a visible
    failover event extends the hold (to InRegionFailoverGraceSeconds from its start), its absence never
    shortens it."""
    if not _writer_region_answers(evidence):
        return None
    since = evidence.writer_unavailable_since or evidence.notification.state_change_time
    until = since + policy.in_region_ceiling
    activity = evidence.peer_activity
    started = activity.failover_started if activity is not None and activity.in_progress else None
    if started is not None:
        until = max(until, started + policy.in_region_failover_grace)
    remaining = until - evidence.gathered_at
    if remaining <= timedelta(0):
        return None
    elapsed = (evidence.gathered_at - since).total_seconds()
    if started is not None and activity is not None:
        what = activity.failover_events[-1][1] if activity.failover_events else f"status {activity.status}"
        code = "in-region-failover"
        reason = (
            f"{activity.replication_group_id} in {evidence.peer_region} is failing over inside its region "
            f"({what}, since {started.isoformat()}); holding until {until.isoformat()}"
        )
    else:
        code = "in-region-ceiling"
        reason = (
            f"the writer in {evidence.peer_region} has been unavailable {elapsed:.0f}s (since {since.isoformat()}) "
            f"and its region's APIs answer: an in-region failover takes up to "
            f"{policy.in_region_ceiling.total_seconds():.0f}s (InRegionFailoverCeilingSeconds), holding until then"
        )
    return Decision(
        Outcome.HOLD,
        code,
        (reason,),
        transient=True,
        rpo_seconds=evidence.lag.seconds,
        retry_after=min(remaining + timedelta(seconds=1), policy.recheck),
    )


def _check_replication_link(evidence: Evidence, policy: Policy) -> Decision | None:
    """This replica still hearing from the writer outvotes the writer region's views: Route 53's health
    check and the writer alarm both come from the writer region's probe, which may be what failed.
    Link down or no datapoint is no vote: absence is not evidence of life (nor of death).

    A link that is up may not have noticed yet that the writer vanished (repl-timeout): hold for
    LINK_UP_GRACE after the notification, then call the writer alive."""
    link = evidence.replication_link
    up, observed_at, where = link.up, link.observed_at, "in the minute of"
    if evidence.recent_link_up is not None:
        (observed_at, up), where = evidence.recent_link_up, "at"
    if up is None or observed_at is None or up < 1:
        return None
    age = evidence.gathered_at - observed_at
    if age > policy.local_health_max_age:
        return None
    seen = f"ReplicationLinkUp 1 {where} {observed_at.isoformat()}, {age.total_seconds():.0f}s ago"
    since_alarm = evidence.gathered_at - evidence.notification.state_change_time
    if since_alarm < LINK_UP_GRACE:
        return _hold(
            "writer-link-up",
            f"this region's replica still has its replication link to the writer ({seen}); a vanished writer "
            f"shows as a link timeout: re-checking for {LINK_UP_GRACE.total_seconds():.0f}s after the alarm",
            evidence.lag.seconds,
        )
    return _refuse(
        "writer-alive",
        f"this region's replica is still replicating from the writer ({seen}): the writer is alive, whatever "
        "the writer region's probe reports",
        evidence.lag.seconds,
    )


def _check_writer_confirmed(evidence: Evidence, policy: Policy) -> Decision | None:
    rpo = evidence.lag.seconds
    if _unreachable_mode(evidence):
        return _check_outside_confirmation(evidence, policy)
    signals = _counted_signals(evidence)
    dead = [signal for signal in signals if signal.vote == Vote.DEAD]
    alive = [signal for signal in signals if signal.vote == Vote.ALIVE]
    unknown = [signal for signal in signals if signal.vote == Vote.UNKNOWN]
    if dead and alive:
        return _hold(
            "vantages-disagree",
            "; ".join(f"{signal.source}: {signal.detail}" for signal in (*dead, *alive)),
            rpo,
        )
    if alive:
        return _refuse(
            "writer-alive",
            "the writer looks healthy from a second vantage (replication-only break or observer failure): "
            + "; ".join(f"{signal.source}: {signal.detail}" for signal in alive),
            rpo,
        )
    if not dead:
        if any(signal.transient for signal in unknown):
            return _hold(
                "confirmation-unavailable",
                "no second vantage answered: " + "; ".join(signal.detail for signal in unknown),
                rpo,
            )
        return _refuse(
            "no-confirmation",
            "nothing confirms the writer is down from a second vantage "
            "(configure PEER_HEALTH_CHECK_ID or PEER_WRITER_ALARM_NAME)"
            + ("".join(f"; {signal.source}: {signal.detail}" for signal in unknown)),
            rpo,
        )
    return None


def _fresh_readings(evidence: Evidence) -> tuple[WriterSignal, ...]:
    """The writer region's own probes, read probe by probe: seconds-fresh and from inside its region."""
    return tuple(s for s in evidence.writer_signals if s.fresh and not s.unreachable and s.vote != Vote.UNKNOWN)


def _unreachable_mode(evidence: Evidence) -> bool:
    """The writer region's APIs did not answer and nothing from inside it could be read."""
    return not _fresh_readings(evidence) and any(s.unreachable for s in evidence.writer_signals)


def _check_outside_confirmation(evidence: Evidence, policy: Policy) -> Decision | None:
    """From here, a lost region and a partition between the two regions look the same: its APIs do not
    answer and replication stopped. Only a vantage outside both breaks the tie (Route 53's checkers, the
    third region's replica); a "healthy" from either blocks promotion, and so does silence from both."""
    rpo = evidence.lag.seconds
    outside = [s for s in evidence.writer_signals if s.outside]
    alive = [s for s in outside if s.vote == Vote.ALIVE]
    dead = [s for s in outside if s.vote == Vote.DEAD]
    unreachable = "; ".join(f"{s.source}: {s.detail}" for s in evidence.writer_signals if s.unreachable)
    since_alarm = evidence.gathered_at - evidence.notification.state_change_time
    waiting = since_alarm < OUTSIDE_CONFIRMATION_HOLD
    if alive:
        seen = "; ".join(f"{s.source}: {s.detail}" for s in alive)
        if waiting:
            return _timed_hold(
                "outside-says-alive",
                f"the writer region does not answer from here ({unreachable}), but a vantage outside both "
                f"regions sees the writer alive ({seen}): a partition, or a view that lags; re-asking for "
                f"{OUTSIDE_CONFIRMATION_HOLD.total_seconds():.0f}s after the alarm",
                rpo,
                policy,
            )
        return _refuse(
            "writer-alive",
            f"partition, not an outage: the writer region does not answer from here ({unreachable}), but {seen}",
            rpo,
        )
    if not dead:
        unknown = "; ".join(f"{s.source}: {s.detail}" for s in outside) or "no outside vantage configured"
        if waiting:
            return _timed_hold(
                "no-outside-confirmation",
                f"the writer region does not answer from here ({unreachable}) and no vantage outside both "
                f"regions has confirmed it is gone ({unknown}); re-asking",
                rpo,
                policy,
            )
        return _refuse(
            "no-outside-confirmation",
            f"cannot tell a partition from a lost region: the writer region does not answer from here "
            f"({unreachable}) and no vantage outside both regions answered ({unknown}); a human decides "
            "(docs/promotion.md, 'When the writer region does not answer')",
            rpo,
        )
    return None


def _timed_hold(code: str, reason: str, rpo: float | None, policy: Policy) -> Decision:
    return Decision(Outcome.HOLD, code, (reason,), transient=True, rpo_seconds=rpo, retry_after=policy.recheck)


def _counted_signals(evidence: Evidence) -> tuple[WriterSignal, ...]:
    """Fresh votes (per-probe, seconds old) outrank the minute-resolution views, which lag the writer's
    real state by one to three minutes; when the writer region does not answer, only the vantages outside
    both regions count; otherwise every signal counts."""
    fresh = _fresh_readings(evidence)
    if fresh:
        return fresh
    if _unreachable_mode(evidence):
        return tuple(s for s in evidence.writer_signals if s.outside and s.vote != Vote.UNKNOWN)
    return evidence.writer_signals


def _check_lag(evidence: Evidence, policy: Policy) -> Decision | None:
    rpo = evidence.lag.seconds
    if rpo is None:
        return _refuse("lag-unknown", f"cannot estimate data loss: {evidence.lag.basis}")
    if rpo > policy.max_lag_seconds:
        return _refuse(
            "lag-above-gate",
            f"estimated data loss {rpo:.0f}s exceeds MAX_LAG_SECONDS {policy.max_lag_seconds:g} ({evidence.lag.basis})",
            rpo,
        )
    return None


def _succession_situation(evidence: Evidence, policy: Policy) -> Situation | None:
    if evidence.rival is None or evidence.datastore is None:
        return None
    return Situation(
        me=Candidacy(policy.region, policy.replication_group_id, policy.priority, True, evidence.lag.seconds),
        rival=evidence.rival,
        datastore=evidence.datastore,
        incident_started_at=evidence.notification.state_change_time,
        now=evidence.gathered_at,
        grace=policy.succession_grace,
        max_lag_seconds=policy.max_lag_seconds,
        health_max_age=policy.local_health_max_age,
    )


def _promote(evidence: Evidence, policy: Policy) -> Decision:
    """Every check passed: promote, unless (three regions) the other secondary goes first."""
    situation = _succession_situation(evidence, policy)
    succession = decide_succession(situation) if situation is not None else None
    rpo = evidence.lag.seconds
    if succession is not None and succession.verdict == Verdict.WAIT:
        return Decision(
            Outcome.HOLD,
            "succession-wait",
            (f"{succession.code}: " + "; ".join(succession.reasons),),
            transient=True,
            rpo_seconds=rpo,
            retry_after=succession.retry_after,
        )
    if succession is not None and succession.verdict == Verdict.YIELD:
        return _refuse(f"yield-{succession.code}", "; ".join(succession.reasons), rpo)
    note = evidence.notification
    dead = [signal for signal in _counted_signals(evidence) if signal.vote == Vote.DEAD]
    reasons = [
        f"{note.alarm_name} in ALARM since {note.state_change_time.isoformat()}",
        *(f"{signal.source}: {signal.detail}" for signal in dead),
        "this region's replica answers",
        f"estimated data loss {rpo:.0f}s within MAX_LAG_SECONDS {policy.max_lag_seconds:g}",
    ]
    if succession is not None:
        reasons.append(f"succession {succession.verdict.value} ({succession.code}): " + "; ".join(succession.reasons))
    act = policy.mode == "auto"
    if not act:
        reasons.append(f"mode {policy.mode}: would promote, taking no action")
    return Decision(Outcome.PROMOTE, "promote", tuple(reasons), act=act, rpo_seconds=rpo)


def should_break_glass(
    evidence: Evidence, policy: Policy, failover_failure: CallFailure | None, became_primary: bool
) -> tuple[bool, str]:
    """After a failover that did not take effect: detach this region from the datastore instead?

    Only when the operator opted in and the writer region's control plane is unreachable, because
    disassociation leaves the old primary running as a separate writer and is undone only by
    rebuilding this region as a new secondary.
    """
    if became_primary:
        return False, "failover took effect"
    if not policy.break_glass_disassociate:
        return False, "BREAK_GLASS_DISASSOCIATE is off"
    if policy.mode != "auto":
        return False, f"mode {policy.mode}"
    if failover_failure is not None and failover_failure.kind == ErrorKind.ACCESS_DENIED:
        return False, f"failover was denied ({failover_failure}): fix IAM, not the datastore"
    if evidence.peer_control_plane != "unreachable":
        return False, f"the writer region's ElastiCache API is {evidence.peer_control_plane}, not unreachable"
    return True, "failover did not take effect and the writer region's ElastiCache API is unreachable"
