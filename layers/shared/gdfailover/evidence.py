"""Evidence for the promotion decision, gathered from bounded AWS calls in parallel.

Everything the decision needs is collected into one immutable :class:`Evidence`; no gathering step
can raise (a failed call becomes a recorded :class:`CallFailure` the decision reasons about), and
the slow peer-region calls run concurrently so a dead region costs one timeout, not several.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import AwsCallError, ErrorKind, classify
from gdfailover.clock import Clock
from gdfailover.cloudwatch import AlarmState, Point, ProbeSeries
from gdfailover.config import PromoteSettings
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreApi
from gdfailover.ledger import Latch
from gdfailover.route53 import HealthCheckView

#: How far back the probe metrics are read: long enough to see HeartbeatAge before it started to climb.
METRICS_LOOKBACK = timedelta(minutes=30)
#: HeartbeatAge rising at least this fraction of wall-clock time means no heartbeat is arriving.
CLIMB_RATE = 0.5
#: The writer's own alarm notices death up to ~3 minutes late (period + EMF delay): not lost writes.
WRITER_ALARM_DETECTION_ALLOWANCE = timedelta(minutes=3)


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

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "vote": self.vote.value, "detail": self.detail}


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


@dataclass(frozen=True, slots=True)
class EvidenceSources:
    """The adapters evidence comes from. Peer-region adapters are built per region on demand."""

    datastores: GlobalDatastoreApi
    peer_datastores: Callable[[str], GlobalDatastoreApi]
    probe_metrics: ProbeMetricsReader
    peer_alarms: Callable[[str], AlarmReader]
    health_checks: HealthCheckReader
    ledger: LatchReader


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

    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="evidence") as pool:
        series_future = pool.submit(
            _timed,
            clock,
            timings,
            "probe_metrics",
            lambda: sources.probe_metrics.series(settings.replication_group_id, now, METRICS_LOOKBACK),
        )
        latch_future = pool.submit(
            _timed,
            clock,
            timings,
            "ledger",
            lambda: sources.ledger.read(settings.global_replication_group_id),
        )
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
                lambda: sources.peer_datastores(region).describe(settings.global_replication_group_id),
            )
            if (region := peer_region)
            else None
        )
        series, series_failure = series_future.result()
        latch, latch_failure = latch_future.result()
        signals: list[WriterSignal] = []
        if health_future is not None:
            signals.append(_route53_signal(*health_future.result()))
        peer_alarm: AlarmState | None = None
        if alarm_future is not None:
            peer_alarm, alarm_failure = alarm_future.result()
            signals.append(_peer_alarm_signal(peer_alarm, alarm_failure, peer_region or "?"))
        control_plane = "not_checked"
        if control_plane_future is not None:
            _, control_failure = control_plane_future.result()
            control_plane, control_signal = _control_plane_signal(control_failure, peer_region or "?")
            if control_signal is not None:
                signals.append(control_signal)

    local = _local_health(series, series_failure)
    writer_down_since = _writer_down_since(notification, settings, peer_alarm)
    lag = estimate_lag_before_failure(series.heartbeat_age if series else (), writer_down_since)
    if series is None and series_failure is not None:
        lag = LagEstimate(None, f"probe metrics unavailable: {series_failure}")
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
        timings_ms=timings,
    )


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
    if view is None:
        assert failure is not None
        return WriterSignal("route53", Vote.UNKNOWN, f"GetHealthCheckStatus failed: {failure}", _transient(failure))
    if view.healthy is None:
        return WriterSignal("route53", Vote.UNKNOWN, "no Route 53 checker reported", transient=True)
    summary = f"{view.healthy_checkers}/{view.checkers} checkers report healthy"
    if view.healthy:
        return WriterSignal("route53", Vote.ALIVE, f"writer health check healthy: {summary}")
    return WriterSignal("route53", Vote.DEAD, f"writer health check unhealthy: {summary}; {view.sample}")


def _peer_alarm_signal(state: AlarmState | None, failure: CallFailure | None, region: str) -> WriterSignal:
    source = f"peer_alarm@{region}"
    if state is None:
        assert failure is not None
        if failure.kind == ErrorKind.UNREACHABLE:
            return WriterSignal(source, Vote.DEAD, f"writer region CloudWatch unreachable: {failure}")
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
            f"peer_control_plane@{region}", Vote.DEAD, f"writer region ElastiCache API unreachable: {failure}"
        )
        return "unreachable", signal
    return "error", None


def _transient(failure: CallFailure) -> bool:
    return failure.kind in (ErrorKind.THROTTLED, ErrorKind.UNREACHABLE)


def _local_health(series: ProbeSeries | None, failure: CallFailure | None) -> LocalHealth:
    if series is None or not series.reachable:
        return LocalHealth(None, None, failure)
    stamp, value = series.reachable[-1]
    return LocalHealth(value, stamp)


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
        )
    return LagEstimate(lag, f"HeartbeatAge before it started climbing ({stopped_at.isoformat()})", age_now)
