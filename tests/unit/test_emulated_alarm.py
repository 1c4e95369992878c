"""The drill's emulated CloudWatch alarm against the user guide's examples ("How alarm state is evaluated
when data is missing": three evaluation periods, DatapointsToAlarm 3, an evaluation range of five periods)
and the late-data behaviour the evaluation range implies."""

from __future__ import annotations

import pytest

from tools.drill.cloud import AlarmSpec, Datapoint, EmulatedAlarm, evaluate_range


def _periods(row: str) -> list[bool | None]:
    """'0 - X - X' (oldest first, as the guide prints it) -> most recent first."""
    symbol = {"0": False, "X": True, "-": None}
    return [symbol[s] for s in reversed(row.split())]


# data points (oldest first) -> outcome for MISSING, IGNORE, BREACHING, NOT BREACHING
USER_GUIDE_TABLE = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("- - - - 0", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - X - -", "ALARM", "retain", "ALARM", "OK"),
]


@pytest.mark.parametrize("example", USER_GUIDE_TABLE, ids=[example[0] for example in USER_GUIDE_TABLE])
@pytest.mark.parametrize("current", ["OK", "ALARM"])
def test_user_guide_examples(example: tuple[str, str, str, str, str], current: str):
    row, missing, ignore, breaching, not_breaching = example
    periods = _periods(row)
    expected = {"missing": missing, "ignore": ignore, "breaching": breaching, "notBreaching": not_breaching}
    for treat, outcome in expected.items():
        want = current if outcome == "retain" else outcome
        assert evaluate_range(periods, 3, treat, current) == want, (row, treat)


def _alarm(
    period: int, treat: str, statistic: str = "Maximum", comparison: str = "GreaterThanThreshold"
) -> EmulatedAlarm:
    spec = AlarmSpec(
        logical_id="X",
        name="x",
        region="us-west-2",
        namespace="Custom/Redis",
        metric_name="HeartbeatAge",
        dimensions=(),
        statistic=statistic,
        period_s=period,
        evaluation_periods=1,
        threshold=55.0,
        comparison=comparison,
        treat_missing=treat,
    )
    return EmulatedAlarm(spec)


def test_late_datapoint_fires_a_not_breaching_trigger_when_it_arrives():
    """High-resolution trigger (30 s x 1, notBreaching): a stale HeartbeatAge that arrives 60 s late
    is evaluated once it arrives (it is inside the evaluation range), not missing forever."""
    alarm = _alarm(30, "notBreaching")
    for t in range(0, 300, 30):
        alarm.add(Datapoint(t + 1, 10.0, t + 1 + 60))  # healthy, 60 s late
    alarm.add(Datapoint(301, 80.0, 361))  # stale, 60 s late
    states = {}
    for now in range(60, 400, 10):
        alarm.evaluate(float(now))
        states[now] = alarm.state
    assert states[350] == "OK"  # the stale datapoint has not arrived yet
    assert states[370] == "ALARM"  # evaluated once it arrived (period 300-330 is inside the range)
    assert [t.new for t in alarm.history] == ["OK", "ALARM"]


def test_datapoint_later_than_the_range_is_missing_for_good():
    alarm = _alarm(30, "notBreaching")
    alarm.add(Datapoint(1, 80.0, 1 + 30 * 4))  # arrives after its period left the 3-period range
    for now in range(10, 200, 10):
        alarm.evaluate(float(now))
    assert alarm.state == "OK"
    assert all(t.new != "ALARM" for t in alarm.history)


def test_writer_alarm_keeps_evaluating_the_last_datapoint_after_the_metric_stops():
    """Standard writer alarm (Maximum < 1, 60 s x 1, breaching): when datapoints stop, the most recent
    retrieved one decides until it leaves the range; then the missing data breaches."""
    alarm = _alarm(60, "breaching", comparison="LessThanThreshold")
    alarm.spec = AlarmSpec(**{**alarm.spec.__dict__, "threshold": 1.0, "metric_name": "HealthCheckStatus"})
    for t in range(0, 180, 30):
        alarm.add(Datapoint(t + 3, 1.0, t + 8))
    seen = {}
    for now in range(60, 481, 60):
        alarm.evaluate(float(now))
        seen[now] = alarm.state
    assert seen[180] == "OK"
    assert seen[300] == "OK"  # no datapoint since 153 s, but 120-180 is still inside the 3-period range
    assert seen[360] == "ALARM"  # the range holds nothing any more: missing counts as breaching
