"""Route 53's witness as an outside vantage, table-driven, and the data-loss bound its history gives.

The table crosses what the witness answers (healthy, unhealthy, no answer) with whether the writer
region's APIs answer from here, for two regions and for three (the third region lost the writer too).
The writer is in us-east-1, so Route 53's API vote is unknown whenever its region does not answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gdfailover.awscall import ErrorKind
from gdfailover.decision import Outcome, decide
from gdfailover.evidence import (
    WITNESS_READING_GAP,
    WITNESS_TRUST,
    CallFailure,
    LagEstimate,
    Point,
    witness_bounded_lag,
    witness_signal,
)
from gdfailover.witness import WitnessReading
from tests.unit.test_decision_table import (
    BASELINE,
    CONTROL_PLANE_UNREACHABLE,
    NOW,
    PEER,
    PEER_ALARM_DEAD,
    PEER_UNREACHABLE,
    POLICY,
    R53_UNREACHABLE,
    THIRD_REGION_LOST_IT,
    THREE_MEMBERS,
)

EPOCH_NOW = NOW.timestamp()
ANSWERS = {
    "healthy": witness_signal(WitnessReading(PEER, "healthy", EPOCH_NOW, "TXT healthy"), None, PEER),
    "unhealthy": witness_signal(WitnessReading(PEER, "unhealthy", EPOCH_NOW, "TXT unhealthy"), None, PEER),
    "no answer": witness_signal(WitnessReading(PEER, None, EPOCH_NOW, "timed out"), None, PEER),
    "not read": witness_signal(None, CallFailure("Invoke", ErrorKind.UNREACHABLE, "ReadTimeoutError"), PEER),
}

# (witness, writer region answers, regions) -> (outcome, code)
TABLE = {
    ("healthy", False, 2): (Outcome.HOLD, "outside-says-alive"),
    ("unhealthy", False, 2): (Outcome.PROMOTE, "promote"),
    ("no answer", False, 2): (Outcome.HOLD, "no-outside-confirmation"),
    ("not read", False, 2): (Outcome.HOLD, "no-outside-confirmation"),
    ("healthy", False, 3): (Outcome.HOLD, "outside-says-alive"),  # a "healthy" from either blocks
    ("unhealthy", False, 3): (Outcome.PROMOTE, "promote"),
    ("no answer", False, 3): (Outcome.PROMOTE, "promote"),  # the third region agrees
    ("not read", False, 3): (Outcome.PROMOTE, "promote"),
    # the writer region answers and its alarm says ALARM: the views are the usual ones
    ("healthy", True, 2): (Outcome.HOLD, "vantages-disagree"),
    ("unhealthy", True, 2): (Outcome.PROMOTE, "promote"),
    ("no answer", True, 2): (Outcome.PROMOTE, "promote"),
    ("not read", True, 2): (Outcome.PROMOTE, "promote"),
    ("healthy", True, 3): (Outcome.HOLD, "vantages-disagree"),
    ("unhealthy", True, 3): (Outcome.PROMOTE, "promote"),
    ("no answer", True, 3): (Outcome.PROMOTE, "promote"),
    ("not read", True, 3): (Outcome.PROMOTE, "promote"),
}


@pytest.mark.parametrize(("witness", "answers", "regions"), sorted(TABLE), ids=str)
def test_the_witness_vantage(witness: str, answers: bool, regions: int) -> None:
    signals = [R53_UNREACHABLE, ANSWERS[witness]]
    if answers:
        signals.append(PEER_ALARM_DEAD)
    else:
        signals += [PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE]
    if regions == 3:
        signals.append(THIRD_REGION_LOST_IT)
    evidence = replace(
        BASELINE,
        writer_signals=tuple(signals),
        peer_control_plane="reachable" if answers else "unreachable",
        datastore=THREE_MEMBERS if regions == 3 else BASELINE.datastore,
    )
    decision = decide(evidence, POLICY)
    assert (decision.outcome, decision.code) == TABLE[(witness, answers, regions)], decision.reasons


def test_a_healthy_witness_refuses_once_the_outside_hold_is_over() -> None:
    """A partition between us-east-1 and here: the witness keeps answering healthy; after the hold the
    promoter refuses and pages (it never promotes on the silence of the writer region)."""
    signals = (R53_UNREACHABLE, ANSWERS["healthy"], PEER_UNREACHABLE, CONTROL_PLANE_UNREACHABLE)
    late = replace(BASELINE.notification, state_change_time=NOW - timedelta(seconds=200))
    decision = decide(replace(BASELINE, writer_signals=signals, notification=late), POLICY)
    assert (decision.outcome, decision.code) == (Outcome.REFUSE, "writer-alive")
    assert "route53_witness@us-east-1" in decision.reasons[0]


STOPPED = NOW - timedelta(seconds=300)
LAG = LagEstimate(20.0, "HeartbeatAge before it started climbing", 300.0, STOPPED)


def at(seconds_after_stop: float, healthy: bool) -> Point:
    return (STOPPED + timedelta(seconds=seconds_after_stop), 1.0 if healthy else 0.0)


def test_a_lost_region_costs_the_lag_when_the_witness_flips_within_its_worst_case() -> None:
    history = [at(-30, True), at(0, True), at(30, True), at(60, False), at(90, False)]
    bounded = witness_bounded_lag(LAG, history)
    assert bounded is not None
    assert bounded.seconds == 20.0 + max(0.0, 30 - WITNESS_TRUST.total_seconds())
    assert "last said healthy" in bounded.basis


def test_a_partition_then_death_costs_the_whole_partition() -> None:
    """Healthy for 300 s after replication stopped: the writer took writes all that time."""
    history = [at(t, True) for t in range(0, 330, 30)] + [at(330, False)]
    bounded = witness_bounded_lag(LAG, history)
    assert bounded is not None
    assert bounded.seconds == pytest.approx(20.0 + 300 - WITNESS_TRUST.total_seconds())
    assert bounded.seconds > POLICY.max_lag_seconds


def test_missing_readings_count_as_healthy_up_to_one_gap_before_the_first_unhealthy() -> None:
    history = [at(200, False)]  # the probe's readings in between are missing
    bounded = witness_bounded_lag(LAG, history)
    assert bounded is not None
    expected = 200 - (WITNESS_TRUST + WITNESS_READING_GAP).total_seconds()
    assert bounded.seconds == pytest.approx(20.0 + expected)


@pytest.mark.parametrize(
    "history",
    [
        [],  # never read: the old upper bound stays
        [at(0, True), at(30, False), at(60, True)],  # healthy again now: not this function's call
        [at(-60, False)],  # nothing since replication stopped
    ],
    ids=["none", "healthy-now", "only-before"],
)
def test_no_bound_without_an_unhealthy_word_since_replication_stopped(history: list[Point]) -> None:
    assert witness_bounded_lag(LAG, history) is None


def test_no_bound_without_a_known_stop() -> None:
    assert witness_bounded_lag(LagEstimate(20.0, "not climbing", 20.0), [at(30, False)]) is None
