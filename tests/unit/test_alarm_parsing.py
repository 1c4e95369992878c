"""SNS-wrapped CloudWatch alarm notifications: the event files parse; anything else is rejected with a reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gdfailover.alarm import AlarmNotification, NotificationRejected, parse_sns_event

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def only(event: Any) -> AlarmNotification | NotificationRejected:
    results = parse_sns_event(event)
    assert len(results) == 1
    return results[0]


def with_message(message: Any) -> dict[str, Any]:
    event = copy.deepcopy(load("promote-alarm.json"))
    event["Records"][0]["Sns"]["Message"] = message if isinstance(message, str) else json.dumps(message)
    return event


def alarm_message() -> dict[str, Any]:
    return dict(json.loads(load("promote-alarm.json")["Records"][0]["Sns"]["Message"]))


def test_the_alarm_event_parses_into_a_typed_notification() -> None:
    parsed = only(load("promote-alarm.json"))
    assert isinstance(parsed, AlarmNotification)
    assert (parsed.alarm_name, parsed.new_state, parsed.old_state, parsed.account_id, parsed.region) == (
        "gds-failover-promotion-trigger-my-gds-usw2",
        "ALARM",
        "OK",
        "111122223333",
        "us-west-2",
    )
    assert parsed.state_change_time == datetime(2025, 5, 1, 12, 1, 12, 345000, tzinfo=UTC)
    assert parsed.message_id == "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    assert parsed.trigger["MetricName"] == "HeartbeatAge"


@pytest.mark.parametrize(
    ("name", "state", "alarm"),
    [
        ("promote-ok.json", "OK", "gds-failover-promotion-trigger-my-gds-usw2"),
        ("promote-foreign-alarm.json", "ALARM", "payments-cache-high-cpu"),
    ],
)
def test_the_other_event_files_parse_too(name: str, state: str, alarm: str) -> None:
    parsed = only(load(name))
    assert isinstance(parsed, AlarmNotification)
    assert (parsed.new_state, parsed.alarm_name) == (state, alarm)


def test_region_falls_back_to_the_topic_when_the_alarm_arn_is_absent() -> None:
    message = alarm_message()
    del message["AlarmArn"]
    parsed = only(with_message(message))
    assert isinstance(parsed, AlarmNotification)
    assert (parsed.alarm_arn, parsed.region) == (None, "us-west-2")


def _without(key: str) -> dict[str, Any]:
    message = alarm_message()
    del message[key]
    return with_message(message)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "not an SNS event"),
        ({"Records": []}, "not an SNS event"),
        ("just a string", "not an SNS event"),
        ({"Records": [{"EventSource": "aws:sqs", "body": "{}"}]}, "not an SNS record"),
        (with_message("{not json"), "not JSON"),
        (with_message("[1, 2]"), "not an object"),
        (with_message({"hello": "world"}), "missing AlarmName"),
        (_without("StateChangeTime"), "missing StateChangeTime"),
        (_without("AWSAccountId"), "missing AWSAccountId"),
        (with_message(alarm_message() | {"NewStateValue": "PANIC"}), "not an alarm state"),
        (with_message(alarm_message() | {"StateChangeTime": "yesterday"}), "not a timestamp"),
        (with_message(alarm_message() | {"StateChangeTime": "2025-05-01T12:00:00"}), "no time zone"),
    ],
    ids=[
        "empty",
        "no-records",
        "not-a-dict",
        "sqs-record",
        "malformed-json",
        "json-array",
        "not-an-alarm",
        "no-state-change-time",
        "no-account",
        "unknown-state",
        "bad-timestamp",
        "naive-timestamp",
    ],
)
def test_anything_else_is_rejected_with_a_reason(event: Any, reason: str) -> None:
    rejected = only(event)
    assert isinstance(rejected, NotificationRejected)
    assert reason in rejected.reason
