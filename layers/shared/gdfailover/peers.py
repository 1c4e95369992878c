"""Evidence about the other secondary, read in ITS region: its probe metrics and its promotion ledger.

What :func:`gdfailover.succession.decide_succession` needs to know about the rival secondary, from the
rival's own CloudWatch (``Reachable`` and ``HeartbeatAge`` in ``Custom/Redis``, dimensions
``service`` and ``ReplicationGroupId``) and its own DynamoDB ledger (the promotion latch item of
:mod:`gdfailover.ledger`). Both calls are bounded (:data:`gdfailover.awscall.BOUNDED_CONFIG`) and run
concurrently; a failure never raises, it is recorded in the view (a dead region costs one timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from gdfailover.awscall import BOUNDED_CONFIG, classify
from gdfailover.cloudwatch import ProbeMetrics, ProbeSeries
from gdfailover.elasticache import GlobalDatastoreMember
from gdfailover.evidence import LatchReader, ProbeMetricsReader, estimate_lag_before_failure
from gdfailover.ledger import Latch, PromotionLedger
from gdfailover.succession import Peer, RivalView

#: Long enough to see the rival's HeartbeatAge before it started to climb (as the promoter reads its own).
RIVAL_METRICS_LOOKBACK = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class RivalSources:
    """Adapters in the rival's region, built on demand (``region`` -> reader)."""

    metrics: Callable[[str], ProbeMetricsReader]
    ledger: Callable[[str, str], LatchReader]  # (region, table name)


def boto3_rival_sources(namespace: str, service: str, session: Any = None) -> RivalSources:
    """Bounded boto3 clients in the rival's region (a session per call site; boto3 is imported lazily)."""
    import boto3

    def _session() -> Any:
        return session if session is not None else boto3.session.Session()

    def metrics(region: str) -> ProbeMetricsReader:
        client = _session().client("cloudwatch", region_name=region, config=BOUNDED_CONFIG)
        return ProbeMetrics(client, namespace, service)

    def ledger(region: str, table: str) -> LatchReader:
        return PromotionLedger(_session().client("dynamodb", region_name=region, config=BOUNDED_CONFIG), table)

    return RivalSources(metrics=metrics, ledger=ledger)


def observe_rival(
    member: GlobalDatastoreMember,
    peer: Peer | None,
    global_replication_group_id: str,
    now: datetime,
    sources: RivalSources,
) -> RivalView:
    """Read the rival's probe metrics and ledger in its region, concurrently; never raises."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rival") as pool:
        series_future = pool.submit(
            _attempt,
            "GetMetricData",
            lambda: sources.metrics(member.region).series(member.replication_group_id, now, RIVAL_METRICS_LOOKBACK),
        )
        latch_future = (
            pool.submit(
                _attempt,
                "GetItem",
                lambda: sources.ledger(member.region, peer.ledger_table).read(global_replication_group_id),
            )
            if peer is not None
            else None
        )
        series, metrics_error = series_future.result()
        latch: Latch | None = None
        ledger_error: str | None = f"no SUCCESSION_PEERS entry for {member.replication_group_id}: ledger unknown"
        if latch_future is not None:
            latch, ledger_error = latch_future.result()
    return _view(member, peer, series=series, metrics_error=metrics_error, latch=latch, ledger_error=ledger_error)


def _view(
    member: GlobalDatastoreMember,
    peer: Peer | None,
    *,
    series: ProbeSeries | None,
    metrics_error: str | None,
    latch: Latch | None,
    ledger_error: str | None,
) -> RivalView:
    lag_seconds: float | None = None
    lag_basis = ""
    if series is not None:
        lag = estimate_lag_before_failure(series.heartbeat_age)
        lag_seconds, lag_basis = lag.seconds, lag.basis
    return RivalView(
        region=member.region,
        replication_group_id=member.replication_group_id,
        priority=peer.priority if peer is not None else None,
        metrics_error=metrics_error,
        reachable=series.reachable[-1] if series is not None and series.reachable else None,
        lag_seconds=lag_seconds,
        lag_basis=lag_basis,
        ledger_error=ledger_error,
        latch=latch,
        heartbeat_age_now=_latest(series.recent_heartbeat_age or series.heartbeat_age) if series is not None else None,
    )


def _latest(points: tuple[tuple[datetime, float], ...]) -> float | None:
    return points[-1][1] if points else None


T = TypeVar("T")  # not PEP 695 syntax: the local tooling also runs on Python 3.11


def _attempt(operation: str, step: Callable[[], T]) -> tuple[T | None, str | None]:
    try:
        return step(), None
    except Exception as error:  # a rival we cannot read is evidence too (unknown), never an abort
        failure = classify(operation, error)
        return None, f"{failure.operation} {failure.kind.value} ({failure.code})"
