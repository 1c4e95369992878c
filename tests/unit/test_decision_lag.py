"""The data-loss estimate from the HeartbeatAge series, and Route 53's observation summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from gdfailover.cloudwatch import ProbeSeries
from gdfailover.evidence import _rival_lag_against_ours, estimate_lag_before_failure
from gdfailover.route53 import summarize_observations
from gdfailover.succession import RivalView

T0 = datetime(2025, 5, 1, 11, 50, tzinfo=UTC)


def series(*ages: float) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=index), age) for index, age in enumerate(ages)]


def test_lag_is_the_heartbeat_age_just_before_the_climb() -> None:
    estimate = estimate_lag_before_failure(series(31, 29, 33, 30, 90, 150, 210))
    assert estimate.seconds == 30
    assert estimate.heartbeat_age_now == 210


def test_replication_that_broke_before_the_writer_died_adds_the_gap() -> None:
    # heartbeats stopped arriving after 11:53; the writer's own alarm only fired at 12:05
    writer_down = T0 + timedelta(minutes=15)
    estimate = estimate_lag_before_failure(series(31, 29, 33, 30, 90, 150, 210), writer_down)
    stopped_at = T0 + timedelta(minutes=3)
    assert estimate.seconds == 30 + (writer_down - timedelta(minutes=3) - stopped_at).total_seconds()


def test_writer_alarm_detection_delay_is_not_counted_as_lost_writes() -> None:
    estimate = estimate_lag_before_failure(series(31, 29, 33, 30, 90, 150), T0 + timedelta(minutes=5))
    assert estimate.seconds == 30


def test_no_datapoints_means_unknown() -> None:
    assert estimate_lag_before_failure([]).seconds is None


def test_climbing_for_the_whole_window_means_unknown() -> None:
    estimate = estimate_lag_before_failure(series(600, 660, 720, 780))
    assert estimate.seconds is None
    assert "whole" in estimate.basis


def test_not_climbing_reports_the_latest_value() -> None:
    assert estimate_lag_before_failure(series(30, 31, 29)).seconds == 29


def test_route53_uses_its_own_18_percent_rule() -> None:
    three_of_sixteen = ["Success: alarm OK"] * 3 + ["Failure: alarm in ALARM"] * 13
    assert summarize_observations("hc", three_of_sixteen).healthy is True
    two_of_sixteen = ["Success: alarm OK"] * 2 + ["Failure: alarm in ALARM"] * 14
    view = summarize_observations("hc", two_of_sixteen)
    assert (view.healthy, view.healthy_checkers, view.checkers) == (False, 2, 16)
    assert view.sample.startswith("Failure")
    assert summarize_observations("hc", []).healthy is None


def test_a_rival_whose_heartbeat_is_staler_than_ours_lacks_the_difference() -> None:
    now = datetime(2025, 5, 1, 12, 10, tzinfo=UTC)
    # ours: fresh until the writer died 90 s ago (lag before the climb: 10 s)
    ours = ProbeSeries(
        reachable=((now, 1.0),),
        heartbeat_age=tuple(
            (now - timedelta(minutes=m), age) for m, age in ((4, 10), (3, 12), (2, 10), (1, 40), (0, 90))
        ),
    )
    # the rival: its replication broke 5 minutes ago; its own estimate only sees the 8 s before its climb
    rival = RivalView(
        "eu-west-1", "my-gds-euw1", 10, lag_seconds=8.0, lag_basis="before the climb", heartbeat_age_now=390.0
    )
    adjusted = _rival_lag_against_ours(rival, ours)
    assert adjusted.lag_seconds == 10.0 + 300.0
    assert "300s staler than ours" in adjusted.lag_basis
    # within the reading skew: unchanged
    close = _rival_lag_against_ours(replace(rival, heartbeat_age_now=100.0), ours)
    assert close.lag_seconds == 8.0
