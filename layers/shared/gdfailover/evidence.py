"""Evidence for the promotion decision, gathered from bounded AWS calls in parallel.

Everything the decision needs is collected into one immutable :class:`Evidence`; no gathering step
can raise (a failed call becomes a recorded :class:`CallFailure` the decision reasons about), and
the slow peer-region calls run concurrently so a dead region costs one timeout, not several.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import AwsCallError, ErrorKind, classify
from gdfailover.clock import Clock
from gdfailover.cloudwatch import RECENT_PERIOD_SECONDS, AlarmState, Point, ProbeSeries
from gdfailover.config import PromoteSettings
from gdfailover.elasticache import (
    GlobalDatastore,
    GlobalDatastoreApi,
    GlobalDatastoreMember,
    ReplicationGroupActivity,
)
from gdfailover.ledger import Latch, Pause
from gdfailover.route53 import HealthCheckView
from gdfailover.succession import RivalView, other_secondary
from gdfailover.witness import (
    HEALTHY,
    ROUTE53_LOST_REGION_LAG_WORST_S,
    WITNESS_TTL_SECONDS,
    WitnessReader,
    WitnessReading,
)

#: How far back the probe metrics are read: long enough to see HeartbeatAge before it started to climb.
METRICS_LOOKBACK = timedelta(minutes=30)
#: HeartbeatAge rising at least this fraction of wall-clock time means no heartbeat is arriving.
CLIMB_RATE = 0.5
#: The writer's own alarm notices death up to ~3 minutes late (period + EMF delay): not lost writes.
WRITER_ALARM_DETECTION_ALLOWANCE = timedelta(minutes=3)
#: The writer region's own probe datapoints count when this recent (two 30 s cadences, with EMF delay).
PEER_PROBE_FRESHNESS = timedelta(seconds=75)
#: Consecutive failed probes of the writer region's own probe that count as "the writer is down".
PEER_PROBE_FAILURES = 2
#: The rival secondary's heartbeat this much staler than ours means its replication stopped earlier
#: (two 15 s cadences of reading skew tolerated): it lacks that much of what we hold.
RIVAL_STALENESS_MARGIN_SECONDS = 30.0
#: How far back the writer region's ElastiCache events are read for an in-region (Multi-AZ) failover.
IN_REGION_EVENTS_LOOKBACK = timedelta(minutes=10)
#: How far back the writer region's own probes are read: long enough to find when the current run of
#: failed probes began (the in-region ceiling counts from there).
PEER_PROBE_LOOKBACK = timedelta(minutes=10)
#: A "healthy" witness answer proves the writer's alarm data looked healthy to Route 53 at most this long
#: before: the record's TTL (a cached answer) plus Route 53's worst lag (gdfailover.witness, ASSUMPTION).
WITNESS_TRUST = timedelta(seconds=WITNESS_TTL_SECONDS + ROUTE53_LOST_REGION_LAG_WORST_S)
#: Readings come with every probe (30 s at most apart) and at each re-check. When the last "healthy" one
#: is further than this from the first "unhealthy", the witness is taken to have said healthy until this
#: long before the first "unhealthy" one (a lost probe hides no more than one reading).
WITNESS_READING_GAP = timedelta(seconds=40)


class Vote(StrEnum):
    DEAD = "dead"
    ALIVE = "alive"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CallFailure:
    operation: str
    kind: ErrorKind
    code: str
    message: str = ""

    @classmethod
    def of(cls, error: AwsCallError) -> CallFailure:
        return cls(error.operation, error.kind, error.code, error.message)

    def __str__(self) -> str:
        return f"{self.operation} {self.kind.value} ({self.code})"


@dataclass(frozen=True, slots=True)
class WriterSignal:
    """One independent view of whether the current writer is dead."""

    source: str
    vote: Vote
    detail: str
    transient: bool = False  # an UNKNOWN caused by throttling or a timeout: worth asking again
    #: Seconds-fresh evidence (the writer region's own last probes, its unreachable API). When a fresh
    #: signal votes, the minute-resolution views (Route 53, the writer alarm) are only recorded: they
    #: lag the truth by one to three minutes in both directions.
    fresh: bool = False
    #: The vote is only that the writer region's API did not answer. From here a partition and a lost
    #: region look the same, so it counts only with a vantage outside both regions agreeing.
    unreachable: bool = False
    #: A vantage outside this region and the writer's: Route 53's health checkers, the third region.
    outside: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "vote": self.vote.value,
            "detail": self.detail,
            "fresh": self.fresh,
            "unreachable": self.unreachable,
            "outside": self.outside,
        }


@dataclass(frozen=True, slots=True)
class LocalHealth:
    reachable: float | None  # latest per-minute Maximum of Reachable, None if no datapoint
    observed_at: datetime | None
    failure: CallFailure | None = None


@dataclass(frozen=True, slots=True)
class ReplicationLink:
    """This region's replica's own view of its link to the writer (ReplicationLinkUp, per-minute Minimum)."""

    up: float | None  # latest datapoint, None if none in the lookback window
    observed_at: datetime | None


NO_REPLICATION_LINK_DATA = ReplicationLink(None, None)


@dataclass(frozen=True, slots=True)
class LagEstimate:
    """Estimated data loss if this region is promoted now (seconds of writes not replicated here)."""

    seconds: float | None
    basis: str
    heartbeat_age_now: float | None = None
    #: The last HeartbeatAge datapoint before it started to climb (replication stopped after it)
    stopped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    notification: AlarmNotification
    gathered_at: datetime
    datastore: GlobalDatastore | None
    datastore_failure: CallFailure | None
    local: LocalHealth
    writer_signals: tuple[WriterSignal, ...]
    lag: LagEstimate
    latch: Latch | None
    latch_failure: CallFailure | None = None
    replication_link: ReplicationLink = NO_REPLICATION_LINK_DATA
    peer_region: str | None = None
    peer_control_plane: str = "not_checked"  # reachable | unreachable | error | not_checked
    #: The writer's replication group as its own region reports it (Multi-AZ failover in progress?)
    peer_activity: ReplicationGroupActivity | None = None
    #: This replica's latest per-probe HeartbeatAge and ReplicationLinkUp (5 s buckets), if any
    recent_heartbeat_age: Point | None = None
    recent_link_up: Point | None = None
    #: The other secondary of a three-region datastore, read in its region (None: two regions)
    rival: RivalView | None = None
    #: The first of the writer's own failed probes in the current run of failures (None: not readable)
    writer_unavailable_since: datetime | None = None
    #: The writer's own first successful probe after a run of failures in the lookback (it came back)
    writer_recovered_at: datetime | None = None
    #: Route 53's witness of the writer as read here, oldest first: 1 healthy, 0 unhealthy (the probe's
    #: readings, the wake-up's, and this round's own)
    witness_history: tuple[Point, ...] = ()
    #: An operator's runtime pause of automatic promotion (``make pause``), active or expired; None: none
    pause: Pause | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "notification": self.notification.as_dict(),
            "gathered_at": self.gathered_at.isoformat(),
            "datastore": self.datastore.as_dict() if self.datastore else None,
            "datastore_failure": str(self.datastore_failure) if self.datastore_failure else None,
            "local_reachable": self.local.reachable,
            "local_observed_at": self.local.observed_at.isoformat() if self.local.observed_at else None,
            "local_failure": str(self.local.failure) if self.local.failure else None,
            "replication_link_up": self.replication_link.up,
            "replication_link_observed_at": (
                self.replication_link.observed_at.isoformat() if self.replication_link.observed_at else None
            ),
            "writer_signals": [signal.as_dict() for signal in self.writer_signals],
            "lag_seconds": self.lag.seconds,
            "lag_basis": self.lag.basis,
            "heartbeat_age_now": self.lag.heartbeat_age_now,
            "latch": self.latch.as_dict() if self.latch else None,
            "latch_failure": str(self.latch_failure) if self.latch_failure else None,
            "peer_region": self.peer_region,
            "peer_control_plane": self.peer_control_plane,
            "peer_activity": self.peer_activity.as_dict() if self.peer_activity else None,
            "recent_heartbeat_age": _point_dict(self.recent_heartbeat_age),
            "recent_link_up": _point_dict(self.recent_link_up),
            "rival": self.rival.as_dict() if self.rival else None,
            "witness_history": [_point_dict(point) for point in self.witness_history[-12:]],
            "writer_recovered_at": self.writer_recovered_at.isoformat() if self.writer_recovered_at else None,
            "writer_unavailable_since": (
                self.writer_unavailable_since.isoformat() if self.writer_unavailable_since else None
            ),
            "pause": self.pause.as_dict() if self.pause else None,
            "timings_ms": self.timings_ms,
        }


class ProbeMetricsReader(Protocol):
    def series(self, replication_group_id: str, end: datetime, lookback: timedelta) -> ProbeSeries: ...


class AlarmReader(Protocol):
    def state(self, alarm_name: str) -> AlarmState: ...


class HealthCheckReader(Protocol):
    def status(self, health_check_id: str) -> HealthCheckView: ...


class LatchReader(Protocol):
    def read(self, global_replication_group_id: str) -> Latch | None: ...


class PauseReader(Protocol):
    def read_pause(self, global_replication_group_id: str) -> Pause | None: ...


@dataclass(frozen=True, slots=True)
class EvidenceSources:
    """The adapters evidence comes from. Peer-region adapters are built per region on demand."""

    datastores: GlobalDatastoreApi
    peer_datastores: Callable[[str], GlobalDatastoreApi]
    probe_metrics: ProbeMetricsReader
    peer_alarms: Callable[[str], AlarmReader]
    health_checks: HealthCheckReader
    ledger: LatchReader
    #: The writer region's probe metrics (its own per-probe view of its Redis); None: not consulted
    peer_probe_metrics: Callable[[str], ProbeMetricsReader] | None = None
    #: Three regions: observes the other secondary in its region (gdfailover.peers.observe_rival with
    #: this stack's SUCCESSION_PEERS); None: a rival is reported as not observed
    rival: Callable[[GlobalDatastoreMember, datetime], RivalView] | None = None
    #: Route 53's witness of a region's writer, read now from inside this region's VPC; None: not read
    witness: WitnessReader | None = None
    #: The runtime pause (gdfailover.ledger.PromotionLedger, the same table as the latch); None: not read
    pauses: PauseReader | None = None


def gather_evidence(
    notification: AlarmNotification, settings: PromoteSettings, sources: EvidenceSources, clock: Clock
) -> Evidence:
    now = clock.now()
    timings: dict[str, float] = {}
    datastore, datastore_failure = _timed(
        clock, timings, "datastore", lambda: sources.datastores.describe(settings.global_replication_group_id)
    )
    primary = datastore.primary if datastore else None
    peer_region = primary.region if primary and primary.region != settings.region else None
    peer_group = primary.replication_group_id if primary else ""
    rival_id = other_secondary(datastore, settings.replication_group_id) if datastore else None
    rival_member = datastore.member(rival_id) if datastore and rival_id else None

    with ThreadPoolExecutor(max_workers=9, thread_name_prefix="evidence") as pool:
        series_future = pool.submit(
            _timed,
            clock,
            timings,
            "probe_metrics",
            lambda: sources.probe_metrics.series(settings.replication_group_id, now, METRICS_LOOKBACK),
        )
        latch_future, pause_future = _ledger_reads(pool, clock, timings, sources, settings.global_replication_group_id)
        health_future = (
            pool.submit(_timed, clock, timings, "route53", lambda: sources.health_checks.status(health_check_id))
            if (health_check_id := settings.peer_health_check_id)
            else None
        )
        alarm_future = (
            pool.submit(_timed, clock, timings, "peer_alarm", lambda: sources.peer_alarms(region).state(alarm_name))
            if (region := peer_region) and (alarm_name := settings.peer_writer_alarm_name)
            else None
        )
        control_plane_future = (
            pool.submit(
                _timed,
                clock,
                timings,
                "peer_control_plane",
                lambda: sources.peer_datastores(region).replication_group_activity(
                    peer_group, now - IN_REGION_EVENTS_LOOKBACK
                ),
            )
            if (region := peer_region)
            else None
        )
        peer_probe_future = (
            pool.submit(
                _timed,
                clock,
                timings,
                "peer_probe",
                lambda: reader(region).series(peer_group, now, PEER_PROBE_LOOKBACK),
            )
            if (region := peer_region) and (reader := sources.peer_probe_metrics) is not None
            else None
        )
        witness_future = (
            pool.submit(_timed, clock, timings, "witness", lambda: witness.read(region))
            if (region := peer_region) and (witness := sources.witness) is not None
            else None
        )
        rival_future = (
            pool.submit(_timed, clock, timings, "rival", lambda: observe(member, now))
            if (member := rival_member) is not None and (observe := sources.rival) is not None
            else None
        )
        series, series_failure = series_future.result()
        latch, latch_failure, pause = _with_pause(latch_future.result(), pause_future)
        signals: list[WriterSignal] = []
        if health_future is not None:
            signals.append(_route53_signal(*health_future.result()))
        witness_reading, witness_failure = witness_future.result() if witness_future is not None else (None, None)
        if witness_future is not None:
            signals.append(witness_signal(witness_reading, witness_failure, peer_region or "?"))
        peer_alarm: AlarmState | None = None
        if alarm_future is not None:
            peer_alarm, alarm_failure = alarm_future.result()
            signals.append(_peer_alarm_signal(peer_alarm, alarm_failure, peer_region or "?"))
        peer_series: ProbeSeries | None = None
        if peer_probe_future is not None:
            peer_series, peer_failure = peer_probe_future.result()
            signals.append(_peer_probe_signal(peer_series, peer_failure, peer_region or "?", now))
        control_plane = "not_checked"
        activity: ReplicationGroupActivity | None = None
        rival: RivalView | None = None
        if rival_member is not None:
            rival = _rival_view(rival_member, rival_future.result() if rival_future is not None else None)
            rival = _rival_lag_against_ours(rival, series)
            signals.append(_rival_writer_signal(rival, settings.heartbeat_threshold_seconds))
        if control_plane_future is not None:
            activity, control_failure = control_plane_future.result()
            control_plane, control_signal = _control_plane_signal(control_failure, peer_region or "?")
            if control_signal is not None:
                signals.append(control_signal)

    woken = _wakeup_reading(notification)
    local = _local_health(series, series_failure, woken)
    recent_age = _freshest(
        series.recent_heartbeat_age[-1] if series and series.recent_heartbeat_age else None,
        (woken.checked_at, woken.heartbeat_age) if woken is not None else None,
    )
    history = _witness_history(series, woken, witness_reading, notification)
    lag = _lag(
        series,
        series_failure,
        writer_down_since=_writer_down_since(notification, settings, peer_alarm),
        signals=signals,
        recent_age=recent_age,
        witness_history=history,
    )
    return Evidence(
        notification=notification,
        gathered_at=now,
        datastore=datastore,
        datastore_failure=datastore_failure,
        local=local,
        writer_signals=tuple(signals),
        lag=lag,
        latch=latch,
        latch_failure=latch_failure,
        replication_link=_replication_link(series),
        peer_region=peer_region,
        peer_control_plane=control_plane,
        peer_activity=activity,
        recent_heartbeat_age=recent_age,
        recent_link_up=_freshest(
            series.recent_replication_link_up[-1] if series and series.recent_replication_link_up else None,
            (woken.checked_at, woken.link_up) if woken is not None and woken.link_up is not None else None,
        ),
        rival=rival,
        writer_unavailable_since=_unavailable_since(peer_series),
        writer_recovered_at=_recovered_at(peer_series),
        witness_history=history,
        pause=pause,
        timings_ms=timings,
    )


def _lag(
    series: ProbeSeries | None,
    failure: CallFailure | None,
    *,
    writer_down_since: datetime | None,
    signals: list[WriterSignal],
    recent_age: Point | None,
    witness_history: Sequence[Point],
) -> LagEstimate:
    if series is None and failure is not None:
        return LagEstimate(None, f"probe metrics unavailable: {failure}")
    lag = estimate_lag_before_failure(series.heartbeat_age if series else (), writer_down_since)
    return _bounded_when_the_writer_is_silent(lag, writer_down_since, signals, recent_age, witness_history)


def _ledger_reads(
    pool: ThreadPoolExecutor, clock: Clock, timings: dict[str, float], sources: EvidenceSources, global_id: str
) -> tuple[Future[tuple[Latch | None, CallFailure | None]], Future[tuple[Pause | None, CallFailure | None]] | None]:
    """The promotion latch and (when a reader is wired) the operator's pause, read in parallel."""
    latch = pool.submit(_timed, clock, timings, "ledger", lambda: sources.ledger.read(global_id))
    pauses = sources.pauses
    pause = pool.submit(_timed, clock, timings, "pause", lambda: pauses.read_pause(global_id)) if pauses else None
    return latch, pause


def _with_pause(
    latch: tuple[Latch | None, CallFailure | None], pause: Future[tuple[Pause | None, CallFailure | None]] | None
) -> tuple[Latch | None, CallFailure | None, Pause | None]:
    """The latch and the pause: both live in the ledger table, so an unreadable pause is an unreadable
    ledger (``ledger-unavailable``: a hold when transient)."""
    read, failure = pause.result() if pause is not None else (None, None)
    return latch[0], latch[1] or failure, read


def _rival_view(
    member: GlobalDatastoreMember, observed: tuple[RivalView | None, CallFailure | None] | None
) -> RivalView:
    """The rival as observed, or (no observer, or it failed) as unknown: priority None ranks it preferred,
    so this region waits the grace rather than racing a secondary it cannot see."""
    if observed is not None and observed[0] is not None:
        return observed[0]
    why = f"not observed: {observed[1]}" if observed is not None else "not observed (no SUCCESSION_PEERS wiring)"
    return RivalView(member.region, member.replication_group_id, None, metrics_error=why, ledger_error=why)


def _rival_lag_against_ours(rival: RivalView, series: ProbeSeries | None) -> RivalView:
    """The rival's own estimate cannot see writes it missed before the writer died (its replication broke
    earlier: its heartbeat climbed long before ours). Both heartbeats come from the same writer, so the
    difference between what the two replicas read now is what the rival lacks on top of our own loss."""
    ours = (series.recent_heartbeat_age or series.heartbeat_age) if series is not None else ()
    if not ours or rival.heartbeat_age_now is None or rival.lag_seconds is None:
        return rival
    staler = rival.heartbeat_age_now - ours[-1][1]
    if staler <= RIVAL_STALENESS_MARGIN_SECONDS:
        return rival
    own = estimate_lag_before_failure(series.heartbeat_age if series is not None else ()).seconds or 0.0
    return replace(
        rival,
        lag_seconds=max(rival.lag_seconds, own + staler),
        lag_basis=f"its heartbeat is {staler:.0f}s staler than ours: its replication stopped before the writer "
        f"died ({rival.lag_basis})",
    )


def _point_dict(point: Point | None) -> dict[str, Any] | None:
    return None if point is None else {"at": point[0].isoformat(), "value": point[1]}


T = TypeVar("T")  # not PEP 695 syntax: the local tooling also runs on Python 3.11


def _timed(
    clock: Clock, timings: dict[str, float], name: str, step: Callable[[], T]
) -> tuple[T | None, CallFailure | None]:
    started = clock.monotonic()
    try:
        return step(), None
    except Exception as error:  # every failure becomes evidence; none may abort the decision
        return None, CallFailure.of(classify(name, error))
    finally:
        timings[name] = round((clock.monotonic() - started) * 1000.0, 1)


def _route53_signal(view: HealthCheckView | None, failure: CallFailure | None) -> WriterSignal:
    """Route 53's health checkers: outside every region, so they tell a partition from an outage. The
    API is served from us-east-1: when that is the region in question, the vote is unknown."""
    if view is None:
        assert failure is not None
        return WriterSignal(
            "route53", Vote.UNKNOWN, f"GetHealthCheckStatus failed: {failure}", _transient(failure), outside=True
        )
    if view.healthy is None:
        return WriterSignal("route53", Vote.UNKNOWN, "no Route 53 checker reported", transient=True, outside=True)
    summary = f"{view.healthy_checkers}/{view.checkers} checkers report healthy"
    if view.healthy:
        return WriterSignal("route53", Vote.ALIVE, f"writer health check healthy: {summary}", outside=True)
    return WriterSignal("route53", Vote.DEAD, f"writer health check unhealthy: {summary}; {view.sample}", outside=True)


def _rival_writer_signal(rival: RivalView, threshold: float | None) -> WriterSignal:
    """The third region's view of the writer: its replica's latest heartbeat. Fresh means the writer still
    replicates to it (alive: a partition cut only us off); stale means it lost the writer too."""
    source = f"third_region@{rival.region}"
    age = rival.heartbeat_age_now
    answers = rival.reachable is not None and rival.reachable[1] >= 1
    if age is None or threshold is None or not answers:
        why = rival.metrics_error or ("no HeartbeatAge datapoint" if answers else "its replica does not answer")
        return WriterSignal(source, Vote.UNKNOWN, f"third region's view unknown: {why}", outside=True)
    if age <= threshold:
        return WriterSignal(
            source,
            Vote.ALIVE,
            f"its replica read the writer's heartbeat {age:.0f}s old (threshold {threshold:g}s): still replicating",
            outside=True,
        )
    return WriterSignal(
        source,
        Vote.DEAD,
        f"its replica reads the writer's heartbeat {age:.0f}s old (threshold {threshold:g}s): it lost the writer too",
        outside=True,
    )


def _peer_alarm_signal(state: AlarmState | None, failure: CallFailure | None, region: str) -> WriterSignal:
    source = f"peer_alarm@{region}"
    if state is None:
        assert failure is not None
        if failure.kind == ErrorKind.UNREACHABLE:
            return WriterSignal(source, Vote.DEAD, f"writer region CloudWatch unreachable: {failure}", unreachable=True)
        return WriterSignal(source, Vote.UNKNOWN, f"DescribeAlarms failed: {failure}", _transient(failure))
    if state.state == "ALARM":
        return WriterSignal(source, Vote.DEAD, f"writer alarm {state.name} in ALARM: {state.reason[:120]}")
    if state.state == "OK":
        return WriterSignal(source, Vote.ALIVE, f"writer alarm {state.name} is OK")
    return WriterSignal(source, Vote.UNKNOWN, f"writer alarm {state.name} is {state.state}")


def _control_plane_signal(failure: CallFailure | None, region: str) -> tuple[str, WriterSignal | None]:
    """The writer region's ElastiCache API only votes when it is unreachable (regional outage)."""
    if failure is None:
        return "reachable", None
    if failure.kind == ErrorKind.UNREACHABLE:
        signal = WriterSignal(
            f"peer_control_plane@{region}",
            Vote.DEAD,
            f"writer region ElastiCache API unreachable: {failure}",
            unreachable=True,
        )
        return "unreachable", signal
    return "error", None


def _peer_probe_signal(
    series: ProbeSeries | None, failure: CallFailure | None, region: str, now: datetime
) -> WriterSignal:
    """The writer region's own probe, probe by probe: the freshest view of the writer there is."""
    source = f"peer_probe@{region}"
    if series is None:
        assert failure is not None
        if failure.kind == ErrorKind.UNREACHABLE:
            return WriterSignal(source, Vote.DEAD, f"writer region CloudWatch unreachable: {failure}", unreachable=True)
        return WriterSignal(source, Vote.UNKNOWN, f"GetMetricData failed: {failure}", _transient(failure))
    recent = [(stamp, value) for stamp, value in series.recent_reachable if now - stamp <= PEER_PROBE_FRESHNESS]
    if not recent:
        return WriterSignal(
            source, Vote.UNKNOWN, f"no Reachable datapoint from the writer region in the last {PEER_PROBE_FRESHNESS}"
        )
    stamp, value = recent[-1]
    if value >= 1:
        return WriterSignal(source, Vote.ALIVE, f"writer's own probe reached it at {stamp.isoformat()}", fresh=True)
    failed = list(itertools.takewhile(lambda point: point[1] < 1, reversed(recent)))
    if len(failed) < PEER_PROBE_FAILURES:
        return WriterSignal(
            source,
            Vote.UNKNOWN,
            f"writer's own probe failed once at {stamp.isoformat()}; waiting for the next",
            transient=True,
        )
    return WriterSignal(
        source,
        Vote.DEAD,
        f"writer's own probe failed its last {len(failed)} probes (since {failed[-1][0].isoformat()})",
        fresh=True,
    )


@dataclass(frozen=True, slots=True)
class _WakeupReading:
    checked_at: datetime
    heartbeat_age: float
    link_up: float | None
    writer_witness: float | None = None


def _wakeup_reading(notification: AlarmNotification) -> _WakeupReading | None:
    """The probe result a state-machine wake-up carries: seconds old, before its metrics are visible."""
    probe = notification.trigger.get("probe") if notification.trigger.get("wakeup") else None
    if not isinstance(probe, dict):
        return None
    try:
        checked_at = datetime.fromtimestamp(float(probe["checked_at"]), notification.state_change_time.tzinfo)
        age = float(probe["heartbeat_age_s"])
    except (KeyError, TypeError, ValueError):
        return None
    link_up = probe.get("replication_link_up")  # the probe's own verdict (gdfailover.probe)
    witness = probe.get("writer_witness")
    return _WakeupReading(
        checked_at,
        age,
        float(link_up) if link_up in (0, 1) else None,
        None if witness not in ("healthy", "unhealthy") else 1.0 if witness == HEALTHY else 0.0,
    )


def witness_signal(reading: WitnessReading | None, failure: CallFailure | None, region: str) -> WriterSignal:
    """Route 53's checkers' verdict on the writer, read from the DNS data plane (gdfailover.witness): outside
    both regions, and readable when the Route 53 API (us-east-1) is not."""
    source = f"route53_witness@{region}"
    if reading is None:
        assert failure is not None
        return WriterSignal(source, Vote.UNKNOWN, f"witness not read: {failure}", transient=True, outside=True)
    if reading.answer is None:
        return WriterSignal(
            source, Vote.UNKNOWN, f"witness: no answer ({reading.detail})", transient=True, outside=True
        )
    if reading.answer == HEALTHY:
        return WriterSignal(
            source, Vote.ALIVE, f"Route 53's witness says the writer is healthy ({reading.detail})", outside=True
        )
    return WriterSignal(
        source, Vote.DEAD, f"Route 53's witness says the writer is unhealthy ({reading.detail})", outside=True
    )


def _witness_history(
    series: ProbeSeries | None,
    woken: _WakeupReading | None,
    reading: WitnessReading | None,
    notification: AlarmNotification,
) -> tuple[Point, ...]:
    points = list(series.recent_writer_witness) if series is not None else []
    if woken is not None and woken.writer_witness is not None:
        points.append((woken.checked_at, woken.writer_witness))
    if reading is not None and reading.answer is not None:
        stamp = datetime.fromtimestamp(reading.checked_at, notification.state_change_time.tzinfo)
        points.append((stamp, 1.0 if reading.answer == HEALTHY else 0.0))
    return tuple(sorted(points))


def witness_bounded_lag(lag: LagEstimate, history: Sequence[Point]) -> LagEstimate | None:
    """The data-loss estimate when the writer region does not answer, from what Route 53's witness said
    after replication stopped here: a "healthy" answer means the writer may still have been taking writes
    (a partition) up to WITNESS_TRUST before it; an "unhealthy" one only counts if it is the latest word.
    None when the witness gives nothing to go on (not read, or it does not say unhealthy now)."""
    stopped = lag.stopped_at
    if stopped is None or lag.seconds is None:
        return None
    after = [point for point in history if point[0] >= stopped]
    if not after or after[-1][1] >= 1:
        return None
    healthy = [stamp for stamp, value in after if value >= 1]
    first_unhealthy = next(stamp for stamp, value in after if value < 1 and (not healthy or stamp > healthy[-1]))
    alive_until = max(
        stopped,
        first_unhealthy - WITNESS_TRUST - WITNESS_READING_GAP,
        *(healthy[-1:] and [healthy[-1] - WITNESS_TRUST]),
    )
    extra = (alive_until - stopped).total_seconds()
    said = f"last said healthy at {healthy[-1].isoformat()}" if healthy else "never said healthy since"
    return LagEstimate(
        lag.seconds + extra,
        f"replication stopped near {stopped.isoformat()} with {lag.seconds:g}s lag; Route 53's witness {said}, "
        f"unhealthy from {first_unhealthy.isoformat()}: the writer may have taken writes until "
        f"{alive_until.isoformat()} (+{extra:.0f}s; a healthy answer is trusted "
        f"{WITNESS_TRUST.total_seconds():.0f}s back)",
        lag.heartbeat_age_now,
        stopped,
    )


def _bounded_when_the_writer_is_silent(
    lag: LagEstimate,
    writer_down_since: datetime | None,
    signals: list[WriterSignal],
    recent_age: Point | None,
    witness_history: Sequence[Point] = (),
) -> LagEstimate:
    """When the writer region does not answer and nothing says when the writer stopped, the climb of
    HeartbeatAge here may have begun with a replication break long before the writer died. Route 53's
    witness, read over that time, bounds when the writer stopped (:func:`witness_bounded_lag`); without it,
    every write since the last heartbeat this replica holds may be lost: use that upper bound."""
    silent = any(s.unreachable for s in signals) and not any(
        s.fresh and not s.unreachable and s.vote != Vote.UNKNOWN for s in signals
    )
    if not silent or writer_down_since is not None or lag.seconds is None:
        return lag
    bounded = witness_bounded_lag(lag, witness_history)
    if bounded is not None:
        return bounded
    if recent_age is None:
        return lag
    if recent_age[1] <= lag.seconds:
        return lag
    return LagEstimate(
        recent_age[1],
        f"the writer region does not answer, so when the writer stopped is unknown: every write since the last "
        f"heartbeat held here ({recent_age[1]:.0f}s ago at {recent_age[0].isoformat()}) may be lost (upper bound; "
        f"the climb began with {lag.seconds:g}s lag)",
        lag.heartbeat_age_now,
    )


def _freshest(first: Point | None, second: Point | None) -> Point | None:
    candidates = [point for point in (first, second) if point is not None]
    return max(candidates, key=lambda point: point[0]) if candidates else None


def _unavailable_since(series: ProbeSeries | None) -> datetime | None:
    """The first failed probe of the writer's current run of failures (the latest plausible start of its
    unavailability, so a ceiling counted from here is never shorter than the real outage)."""
    if series is None or not series.recent_reachable:
        return None
    failing = list(itertools.takewhile(lambda point: point[1] < 1, reversed(series.recent_reachable)))
    # a per-probe datapoint is stamped with the start of its bucket: the probe ran within the bucket
    return failing[-1][0] + timedelta(seconds=RECENT_PERIOD_SECONDS) if failing else None


def _recovered_at(series: ProbeSeries | None) -> datetime | None:
    """The writer's first successful own probe after its latest failed one, if it failed at all."""
    points = list(series.recent_reachable) if series is not None else []
    failed = [index for index, (_, value) in enumerate(points) if value < 1]
    if not failed or failed[-1] == len(points) - 1:
        return None
    return points[failed[-1] + 1][0]


def _transient(failure: CallFailure) -> bool:
    return failure.kind in (ErrorKind.THROTTLED, ErrorKind.UNREACHABLE)


def _local_health(series: ProbeSeries | None, failure: CallFailure | None, woken: _WakeupReading | None) -> LocalHealth:
    local = LocalHealth(None, None, failure)
    if series is not None and series.reachable:
        local = LocalHealth(series.reachable[-1][1], series.reachable[-1][0])
    if woken is not None and (local.observed_at is None or woken.checked_at > local.observed_at):
        return LocalHealth(1.0, woken.checked_at)  # the waking probe read this replica
    return local


def _replication_link(series: ProbeSeries | None) -> ReplicationLink:
    if series is None or not series.replication_link_up:
        return NO_REPLICATION_LINK_DATA
    stamp, value = series.replication_link_up[-1]
    return ReplicationLink(value, stamp)


def _writer_down_since(
    notification: AlarmNotification, settings: PromoteSettings, peer_alarm: AlarmState | None
) -> datetime | None:
    """When the writer was first seen unhealthy by its own alarm, if anything says so."""
    candidates: list[datetime] = []
    if settings.peer_writer_alarm_name and notification.alarm_name == settings.peer_writer_alarm_name:
        candidates.append(notification.state_change_time)
    if peer_alarm is not None and peer_alarm.state == "ALARM" and peer_alarm.updated is not None:
        candidates.append(peer_alarm.updated)
    return min(candidates) if candidates else None


def estimate_lag_before_failure(
    heartbeat_age: Sequence[Point], writer_down_since: datetime | None = None
) -> LagEstimate:
    """Seconds of writes this region would lose, from the HeartbeatAge series seen here (oldest first).

    While the writer replicates, HeartbeatAge stays near replication lag + probe cadence; once nothing
    arrives it climbs with the wall clock. The value just before the climb is the lag when replication
    stopped (an upper bound: it includes the probe cadence). If the writer is known to have died later
    than the climb began (replication broke first), the writes in between are lost too.
    """
    points = sorted(heartbeat_age)
    if not points:
        return LagEstimate(None, "no HeartbeatAge datapoints in the last 30 minutes")
    age_now = points[-1][1]
    start = len(points) - 1
    while start > 0:
        (earlier, earlier_age), (later, later_age) = points[start - 1], points[start]
        if later_age - earlier_age < CLIMB_RATE * (later - earlier).total_seconds():
            break
        start -= 1
    if start == len(points) - 1:
        return LagEstimate(age_now, "HeartbeatAge is not climbing: latest value", age_now)
    if start == 0:
        return LagEstimate(None, "HeartbeatAge climbing for the whole 30-minute window", age_now)
    stopped_at, lag = points[start]  # the last datapoint before the climb
    if writer_down_since is not None and writer_down_since - WRITER_ALARM_DETECTION_ALLOWANCE > stopped_at:
        gap = (writer_down_since - WRITER_ALARM_DETECTION_ALLOWANCE - stopped_at).total_seconds()
        return LagEstimate(
            lag + gap,
            f"replication stopped near {stopped_at.isoformat()} with {lag:g}s lag; "
            f"writer down since {writer_down_since.isoformat()}",
            age_now,
            stopped_at,
        )
    return LagEstimate(lag, f"HeartbeatAge before it started climbing ({stopped_at.isoformat()})", age_now, stopped_at)
