"""The probe state machine's wake-up (parsing, incident key, the fresh reading it carries) and the evidence
that tells a lost writer from a moving or partitioned one (its own probes' failure run, the third region)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gdfailover.alarm import (
    WAKEUP_WINDOW_SECONDS,
    AlarmNotification,
    NotificationRejected,
    is_probe_wakeup,
    parse_probe_wakeup,
)
from gdfailover.cloudwatch import ProbeSeries
from gdfailover.evidence import (
    Vote,
    _freshest,
    _recovered_at,
    _rival_writer_signal,
    _unavailable_since,
    _wakeup_reading,
)
from gdfailover.succession import RivalView

ROOT = Path(__file__).resolve().parents[2]
WAKEUP = json.loads((ROOT / "events" / "promote-wakeup.json").read_text())
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _parse(event: dict[str, Any]) -> AlarmNotification | NotificationRejected:
    return parse_probe_wakeup(event, trigger_alarm_name="trigger", region="us-west-2", account_id="111122223333")


def _probe(**changes: Any) -> dict[str, Any]:
    return {**WAKEUP, "probe": {**WAKEUP["probe"], **changes}}


def test_the_wake_up_reads_as_this_regions_trigger_at_the_probes_time() -> None:
    assert is_probe_wakeup(WAKEUP)
    notification = _parse(WAKEUP)
    assert isinstance(notification, AlarmNotification)
    assert (notification.alarm_name, notification.new_state, notification.region) == ("trigger", "ALARM", "us-west-2")
    assert notification.state_change_time == datetime.fromtimestamp(WAKEUP["probe"]["checked_at"], UTC)
    assert "72s old" in notification.reason
    reading = _wakeup_reading(notification)
    assert reading is not None
    assert (reading.heartbeat_age, reading.link_up) == (72.4, 0.0)


def test_one_incident_is_one_key_per_window_and_a_new_heartbeat_is_a_new_incident() -> None:
    first = _parse(WAKEUP)
    later = _parse(_probe(checked_at=WAKEUP["probe"]["checked_at"] + 30, heartbeat_age_s=102.4))
    next_window = _parse(
        _probe(checked_at=WAKEUP["probe"]["checked_at"] + WAKEUP_WINDOW_SECONDS, heartbeat_age_s=372.4)
    )
    died_again = _parse(_probe(checked_at=WAKEUP["probe"]["checked_at"] + 30, heartbeat_age_s=60.0))
    assert isinstance(first, AlarmNotification)
    assert isinstance(later, AlarmNotification)
    assert isinstance(next_window, AlarmNotification)
    assert isinstance(died_again, AlarmNotification)
    assert later.message_id == first.message_id
    assert next_window.message_id != first.message_id
    assert died_again.message_id != first.message_id


@pytest.mark.parametrize(
    "event",
    [
        {**WAKEUP, "probe": "not a dict"},
        _probe(status="healthy"),
        _probe(heartbeat_age_s=None),
        _probe(checked_at="yesterday"),
        _probe(heartbeat_age_s=True),
    ],
    ids=["probe-not-object", "a-writer", "no-age", "bad-time", "bool-age"],
)
def test_a_malformed_wake_up_is_rejected_with_a_reason(event: dict[str, Any]) -> None:
    rejected = _parse(event)
    assert isinstance(rejected, NotificationRejected)
    assert rejected.reason.startswith("probe wake-up")


def test_an_sns_event_is_not_a_wake_up() -> None:
    assert not is_probe_wakeup({"Records": [], "wakeup": "heartbeat-stale"})
    assert not is_probe_wakeup({"source": "probe-state-machine"})
    assert not is_probe_wakeup(["wakeup"])


def test_the_freshest_reading_wins() -> None:
    older, newer = (T0, 10.0), (T0 + timedelta(seconds=5), 80.0)
    assert _freshest(older, newer) == newer
    assert _freshest(newer, None) == newer
    assert _freshest(None, None) is None


def _series(*values: float) -> ProbeSeries:
    points = tuple((T0 + timedelta(seconds=30 * index), value) for index, value in enumerate(values))
    return ProbeSeries(reachable=(), heartbeat_age=(), recent_reachable=points)


def test_the_ceiling_counts_from_the_first_failed_probe_of_the_current_run() -> None:
    """The end of its 5 s bucket: never before the probe ran, so the ceiling is never shorter than it says."""
    assert _unavailable_since(_series(1, 1, 0, 0, 0)) == T0 + timedelta(seconds=65)
    assert _unavailable_since(_series(0, 1, 0)) == T0 + timedelta(seconds=65)
    assert _unavailable_since(_series(1, 1)) is None
    assert _unavailable_since(None) is None


def test_the_writer_came_back_when_a_success_follows_failures() -> None:
    assert _recovered_at(_series(1, 0, 0, 1, 1)) == T0 + timedelta(seconds=90)
    assert _recovered_at(_series(1, 1, 1)) is None  # never failed: a replication break, not a recovery
    assert _recovered_at(_series(1, 0, 0)) is None  # still failing


RIVAL = RivalView("eu-west-1", "my-gds-euw1", 20, reachable=(T0, 1.0), heartbeat_age_now=8.0)


def test_the_third_region_breaks_the_tie_while_its_replica_answers() -> None:
    assert _rival_writer_signal(RIVAL, 55.0).vote == Vote.ALIVE
    assert _rival_writer_signal(replace(RIVAL, heartbeat_age_now=120.0), 55.0).vote == Vote.DEAD
    down = _rival_writer_signal(replace(RIVAL, reachable=(T0, 0.0)), 55.0)
    assert down.vote == Vote.UNKNOWN  # its last heartbeat datapoint is from before its replica died
    assert "does not answer" in down.detail
    assert _rival_writer_signal(replace(RIVAL, heartbeat_age_now=None), 55.0).vote == Vote.UNKNOWN
    assert all(s.outside for s in (_rival_writer_signal(RIVAL, 55.0), down))
