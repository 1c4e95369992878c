"""The promotion trigger: an SNS-wrapped CloudWatch alarm notification, parsed into a typed object.

CloudWatch publishes a JSON document to SNS on every alarm state change (AlarmName, AWSAccountId,
NewStateValue, OldStateValue, StateChangeTime, NewStateReason, Trigger, and AlarmArn on current
alarms; ``Region`` is the region's display name, so the region comes from AlarmArn or the topic ARN).
Parsing only checks the *shape*; whether this alarm, account, region, state and age may trigger a
promotion is the decision's job (:mod:`gdfailover.decision`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent

ALARM_STATES = frozenset({"OK", "ALARM", "INSUFFICIENT_DATA"})


class NotificationRejected(ValueError):
    """The event is not an SNS-wrapped CloudWatch alarm notification we can read."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


@dataclass(frozen=True, slots=True)
class AlarmNotification:
    message_id: str
    topic_arn: str
    alarm_name: str
    account_id: str
    new_state: str
    old_state: str
    state_change_time: datetime
    reason: str
    alarm_arn: str | None = None
    trigger: Mapping[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str | None:
        """The alarm's region code: from AlarmArn when present, else from the topic it came through."""
        for arn in (self.alarm_arn, self.topic_arn):
            parts = (arn or "").split(":")
            if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
                return parts[3]
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "topic_arn": self.topic_arn,
            "alarm_name": self.alarm_name,
            "alarm_arn": self.alarm_arn,
            "account_id": self.account_id,
            "region": self.region,
            "new_state": self.new_state,
            "old_state": self.old_state,
            "state_change_time": self.state_change_time.isoformat(),
            "reason": self.reason,
            "trigger": dict(self.trigger),
        }


def parse_sns_event(event: Any) -> list[AlarmNotification | NotificationRejected]:
    """Every record of an SNS event, parsed, or the reason it could not be."""
    if not isinstance(event, Mapping) or not isinstance(event.get("Records"), list) or not event["Records"]:
        return [NotificationRejected("not an SNS event: no Records list")]
    results: list[AlarmNotification | NotificationRejected] = []
    for record in SNSEvent(dict(event)).records:
        try:
            results.append(_parse_record(record.raw_event))
        except NotificationRejected as rejected:
            results.append(rejected)
    return results


def _parse_record(record: Mapping[str, Any]) -> AlarmNotification:
    if record.get("EventSource") != "aws:sns" or not isinstance(record.get("Sns"), Mapping):
        raise NotificationRejected(f"not an SNS record (EventSource={record.get('EventSource')!r})")
    sns = record["Sns"]
    message_id = sns.get("MessageId")
    if not isinstance(message_id, str) or not message_id:
        raise NotificationRejected("SNS record has no MessageId")
    try:
        document = json.loads(sns.get("Message") or "")
    except (TypeError, ValueError):
        raise NotificationRejected("SNS message is not JSON", message_id) from None
    if not isinstance(document, Mapping):
        raise NotificationRejected("SNS message is JSON but not an object", message_id)
    return parse_alarm_message(document, message_id=message_id, topic_arn=str(sns.get("TopicArn") or ""))


def parse_alarm_message(document: Mapping[str, Any], message_id: str, topic_arn: str) -> AlarmNotification:
    """The CloudWatch alarm JSON inside the SNS message."""
    missing = [
        key
        for key in ("AlarmName", "AWSAccountId", "NewStateValue", "OldStateValue", "StateChangeTime")
        if not isinstance(document.get(key), str) or not document[key]
    ]
    if missing:
        raise NotificationRejected(f"not a CloudWatch alarm notification: missing {', '.join(missing)}", message_id)
    for key in ("NewStateValue", "OldStateValue"):
        if document[key] not in ALARM_STATES:
            raise NotificationRejected(f"{key} {document[key]!r} is not an alarm state", message_id)
    trigger = document.get("Trigger")
    alarm_arn = document.get("AlarmArn")
    return AlarmNotification(
        message_id=message_id,
        topic_arn=topic_arn,
        alarm_name=document["AlarmName"],
        account_id=document["AWSAccountId"],
        new_state=document["NewStateValue"],
        old_state=document["OldStateValue"],
        state_change_time=parse_state_change_time(document["StateChangeTime"], message_id),
        reason=str(document.get("NewStateReason") or ""),
        alarm_arn=alarm_arn if isinstance(alarm_arn, str) and alarm_arn else None,
        trigger=trigger if isinstance(trigger, Mapping) else {},
    )


def parse_state_change_time(text: str, message_id: str | None = None) -> datetime:
    """CloudWatch writes ``2024-05-01T12:00:00.123+0000``; accept any ISO 8601 form with an offset."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise NotificationRejected(f"StateChangeTime {text!r} is not a timestamp", message_id) from None
    if parsed.tzinfo is None:
        raise NotificationRejected(f"StateChangeTime {text!r} has no time zone", message_id)
    return parsed.astimezone(UTC)


#: The probe state machine's wake-up (statemachine/probe.asl.json, WakePromoter).
PROBE_WAKEUP = "heartbeat-stale"
#: Wake-ups of one incident share one key (Powertools Idempotency on message_id): the writer's last
#: heartbeat this replica holds (probe time - heartbeat age), to this many seconds. A replica that keeps
#: reading the same stale heartbeat every probe wakes one decision, and at most one page; a writer that
#: came back and died again left a newer heartbeat, so that is a new incident.
INCIDENT_KEY_GRANULARITY_S = 5


def is_probe_wakeup(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("wakeup") == PROBE_WAKEUP and "Records" not in event


def parse_probe_wakeup(
    event: Mapping[str, Any], *, trigger_alarm_name: str, region: str, account_id: str
) -> AlarmNotification | NotificationRejected:
    """The state machine's wake-up, read as this region's trigger alarm going to ALARM at the probe's
    time, carrying the probe's reading (gdfailover.evidence prefers it while it is the freshest)."""
    probe = event.get("probe")
    if not isinstance(probe, Mapping):
        return NotificationRejected("probe wake-up without a probe result")
    age, checked_at = _number(probe.get("heartbeat_age_s")), _number(probe.get("checked_at"))
    if age is None or checked_at is None or probe.get("status") != "read_only":
        return NotificationRejected("probe wake-up without a replica's heartbeat age and probe time")
    last_heartbeat = int((checked_at - age) // INCIDENT_KEY_GRANULARITY_S) * INCIDENT_KEY_GRANULARITY_S
    execution = str(event.get("execution", "?"))[:80]
    return AlarmNotification(
        message_id=f"probe-wakeup-{region}-{last_heartbeat}",
        topic_arn="",
        alarm_name=trigger_alarm_name,
        account_id=account_id,
        new_state="ALARM",
        old_state="OK",
        state_change_time=datetime.fromtimestamp(checked_at, UTC),
        reason=(
            f"probe wake-up: this region's replica read the writer's heartbeat {age:.0f}s old "
            f"({execution}, probe {event.get('iteration', '?')})"
        ),
        alarm_arn=f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{trigger_alarm_name}",
        trigger={"wakeup": PROBE_WAKEUP, "probe": dict(probe)},
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
