"""PromoteFunction's handler on moto + the GDS emulator: every input ends in one clear log line, and
exactly one FailoverGlobalReplicationGroup call happens however many deliveries race.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gdfailover.clock import FakeClock
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from tests.integration.test_promote_promoter import (
    PEER_WRITER_ALARM,
    TABLE,
    create_ledger_table,
    seed_probe_metrics,
    seed_writer_probes,
    set_peer_writer_alarm,
)
from tools.gds_emulator import GDS_ID, SECONDARY_REGION, SECONDARY_RG, GdsEmulator
from tools.invoke import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
EVENT_ACCOUNT = "111122223333"  # the account in the event files
TRIGGER = "gds-failover-promotion-trigger-my-gds-usw2"
_module_ids = itertools.count()


def promote_env(**changes: str) -> dict[str, str]:
    env = {
        "AWS_REGION": SECONDARY_REGION,
        "AWS_DEFAULT_REGION": SECONDARY_REGION,
        "GLOBAL_REPLICATION_GROUP_ID": GDS_ID,
        "REPLICATION_GROUP_ID": SECONDARY_RG,
        "PROMOTION_MODE": "auto",
        "COOLDOWN_MINUTES": "60",
        "MAX_LAG_SECONDS": "120",
        "TRIGGER_ALARM_NAMES": f"{TRIGGER},{PEER_WRITER_ALARM}",
        "PEER_WRITER_ALARM_NAME": PEER_WRITER_ALARM,
        "PEER_HEALTH_CHECK_ID": "",
        "LEDGER_TABLE_NAME": TABLE,
        "OPERATOR_TOPIC_ARN": "",
        "MAX_NOTIFICATION_AGE_SECONDS": "600",
        "FAILOVER_WAIT_SECONDS": "60",
        "HOLD_RETRY_ATTEMPTS": "2",
        "ACCOUNT_ID": EVENT_ACCOUNT,
        "POWERTOOLS_SERVICE_NAME": "gds-failover",
        "POWERTOOLS_METRICS_NAMESPACE": "Custom/Redis",
    }
    return env | changes


def event_file(name: str, now: datetime | None = None, **message_changes: Any) -> dict[str, Any]:
    """An event file, optionally with a fresh StateChangeTime and other message fields changed."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    if now is not None:
        message["StateChangeTime"] = (now - timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    message.update(message_changes)
    sns["Message"] = json.dumps(message)
    return event


def with_message_id(event: dict[str, Any], message_id: str) -> dict[str, Any]:
    copied = copy.deepcopy(event)
    copied["Records"][0]["Sns"]["MessageId"] = message_id
    return copied


class Harness:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.emulator = GdsEmulator(polls_until_switch=0)
        self.app: ModuleType | None = None
        self.output = ""

    def load(self, **env_changes: str) -> ModuleType:
        for name, value in promote_env(**env_changes).items():
            self.monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location(
            f"_promote_app_{next(_module_ids)}", ROOT / "functions" / "promote" / "app.py"
        )
        assert spec is not None
        assert spec.loader is not None
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        for handler in app.logger.handlers:
            # the logger outlives one test's captured stdout (setStream would flush the closed one)
            handler.stream = sys.stdout
        datastores = ElastiCacheGlobalDatastores(self.emulator.client(SECONDARY_REGION))
        service = app.service
        self.monkeypatch.setattr(service, "datastores", datastores)
        self.monkeypatch.setattr(
            service,
            "sources",
            replace(
                service.sources,
                datastores=datastores,
                peer_datastores=lambda region: ElastiCacheGlobalDatastores(self.emulator.client(region)),
            ),
        )
        self.monkeypatch.setattr(service, "clock", FakeClock(self.now))
        self.app = app
        return app

    def invoke(self, event: Any) -> dict[str, Any]:
        app = self.app or self.load()
        context = LambdaContext(
            function_name="gds-failover-promote",
            memory_limit_in_mb=256,
            timeout_s=900,
            invoked_function_arn=f"arn:aws:lambda:{SECONDARY_REGION}:{EVENT_ACCOUNT}:function:gds-failover-promote",
        )
        result: dict[str, Any] = app.lambda_handler(event, context)
        return result

    def logs(self) -> list[dict[str, Any]]:
        self.output += self.capsys.readouterr().out
        lines = [json.loads(line) for line in self.output.splitlines() if line.startswith("{")]
        return [line for line in lines if "_aws" not in line]

    def emf(self) -> list[dict[str, Any]]:
        self.logs()
        return [json.loads(line) for line in self.output.splitlines() if line.startswith('{"_aws"')]

    def decision_records(self) -> list[dict[str, Any]]:
        return [line["decision_record"] for line in self.logs() if "decision_record" in line]


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Harness]:
    for name, value in promote_env().items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        h = Harness(monkeypatch, capsys)
        create_ledger_table()
        seed_probe_metrics(h.now)
        seed_writer_probes(h.now)  # the writer's own probes: failing longer than the in-region ceiling
        set_peer_writer_alarm("ALARM")
        yield h


def test_the_alarm_event_promotes_this_region_with_a_decision_record_and_metric(harness: Harness) -> None:
    result = harness.invoke(event_file("promote-alarm.json", harness.now))
    assert result["results"] == [
        {"decision": "promote", "code": "promote", "reasons": result["results"][0]["reasons"], "acted": True}
    ]
    assert len(harness.emulator.failover_calls) == 1
    (record,) = harness.decision_records()
    assert (record["decision"], record["action"]["result"], record["mode"]) == ("promote", "primary", "auto")
    assert record["evidence"]["datastore"]["status"] == "available"
    assert record["rpo_estimate_seconds"] == pytest.approx(29, abs=2)
    (blob,) = [blob for blob in harness.emf() if "PromotionDecision" in blob]
    assert (blob["Decision"], blob["service"], blob["PromotionDecision"]) == ("promote", "gds-failover", [1.0])
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom/Redis"


def _bad_input_cases(now: datetime) -> dict[str, tuple[Any, str]]:
    alarm = event_file("promote-alarm.json", now)
    malformed = copy.deepcopy(alarm)
    malformed["Records"][0]["Sns"]["Message"] = '{"AlarmName": "x", '
    missing = copy.deepcopy(alarm)
    missing["Records"][0]["Sns"]["Message"] = json.dumps({"AlarmName": TRIGGER, "NewStateValue": "ALARM"})
    return {
        "malformed JSON": (malformed, "SNS message is not JSON"),
        "missing fields": (missing, "missing AWSAccountId, OldStateValue, StateChangeTime"),
        "not an SNS event": ({"source": "aws.events"}, "not an SNS event"),
        "other account": (
            event_file("promote-alarm.json", now, AWSAccountId="999999999999"),
            "alarm from account 999999999999",
        ),
        "other region": (
            event_file(
                "promote-alarm.json",
                now,
                AlarmArn=f"arn:aws:cloudwatch:eu-west-1:{EVENT_ACCOUNT}:alarm:{TRIGGER}",
            ),
            "from region eu-west-1",
        ),
        "other alarm": (event_file("promote-foreign-alarm.json", now), "is not in TRIGGER_ALARM_NAMES"),
        "OK": (event_file("promote-ok.json", now), "went to OK"),
        "INSUFFICIENT_DATA": (
            event_file("promote-alarm.json", now, NewStateValue="INSUFFICIENT_DATA"),
            "went to INSUFFICIENT_DATA",
        ),
        "stale StateChangeTime": (event_file("promote-alarm.json"), "MAX_NOTIFICATION_AGE_SECONDS"),
    }


BAD_INPUTS = list(_bad_input_cases(datetime.now(UTC)))


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_inputs_end_in_a_clear_log_line_and_no_failover(harness: Harness, case: str) -> None:
    event, expected_reason = _bad_input_cases(harness.now)[case]
    result = harness.invoke(event)
    assert [item["decision"] for item in result["results"]] == ["noop"]
    assert any(
        expected_reason in str(line.get("message")) + str(line.get("decision_record", "")) for line in harness.logs()
    )
    assert harness.emulator.failover_calls == []


def test_a_redelivered_notification_replays_the_recorded_decision(harness: Harness) -> None:
    event = event_file("promote-alarm.json", harness.now)
    first = harness.invoke(event)
    second = harness.invoke(event)
    assert first["results"][0]["decision"] == "promote"
    assert second["results"][0] == first["results"][0] | {"replayed": True}
    assert len(harness.emulator.failover_calls) == 1
    assert any(
        line["message"].startswith("duplicate delivery: this notification was already decided")
        for line in harness.logs()
    )


@pytest.mark.parametrize(
    ("operation", "code", "decision", "reason_code"),
    [
        ("DescribeGlobalReplicationGroups", "Throttling", "hold", "datastore-unavailable"),
        ("DescribeGlobalReplicationGroups", "AccessDenied", "refuse", "datastore-unavailable"),
        ("FailoverGlobalReplicationGroup", "InvalidGlobalReplicationGroupState", "hold", "failover-rejected"),
        ("FailoverGlobalReplicationGroup", "AccessDenied", "refuse", "failover-denied"),
    ],
)
def test_aws_errors_end_in_a_clear_log_line_and_no_failover(
    harness: Harness, operation: str, code: str, decision: str, reason_code: str
) -> None:
    harness.emulator.fail_next(operation, code, "emulated", times=10)
    result = harness.invoke(event_file("promote-alarm.json", harness.now))
    assert (result["results"][0]["decision"], result["results"][0]["code"]) == (decision, reason_code)
    (record,) = harness.decision_records()
    assert code in json.dumps(record)
    assert harness.emulator.roles[SECONDARY_RG][1] == "SECONDARY", "no failover took effect"
    if operation == "DescribeGlobalReplicationGroups":
        assert harness.emulator.failover_calls == []


def _race(harness: Harness, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    app = harness.app or harness.load()
    barrier = threading.Barrier(len(events))
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def deliver(event: dict[str, Any]) -> None:
        barrier.wait()
        try:
            results.append(harness.invoke(event))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert app is harness.app
    return [item for result in results for item in result["results"]]


def test_two_concurrent_deliveries_of_the_same_notification_fail_over_once(harness: Harness) -> None:
    event = event_file("promote-alarm.json", harness.now)
    outcomes = _race(harness, [event, event])
    assert len(harness.emulator.failover_calls) == 1
    acted = [item for item in outcomes if item.get("acted")]
    assert len(acted) == 1
    # Idempotency stops the duplicate (in progress: noop; completed: the decision is replayed). Both
    # threads share one module here, as two Lambda containers never do, so now and then Powertools'
    # persistence layer lets the duplicate through; the promotion latch then refuses it: still once.
    (loser,) = [item for item in outcomes if not item.get("acted")]
    assert (loser["decision"], loser.get("code")) in (
        ("noop", "duplicate-in-progress"),
        ("promote", "promote"),
        ("refuse", "cooldown"),
    ), loser
    assert loser["decision"] != "promote" or loser.get("replayed")


def test_two_concurrent_different_notifications_fail_over_once(harness: Harness) -> None:
    event = event_file("promote-alarm.json", harness.now)
    outcomes = _race(harness, [with_message_id(event, "delivery-a"), with_message_id(event, "delivery-b")])
    assert len(harness.emulator.failover_calls) == 1
    assert len([item for item in outcomes if item.get("acted")]) == 1
    losers = [item for item in outcomes if not item.get("acted")]
    assert [(item["decision"], item["code"]) for item in losers] in (
        [("refuse", "cooldown")],
        [("noop", "already-primary")],
    )


def test_the_operator_topic_gets_the_decision_record(harness: Harness) -> None:
    sns = boto3.client("sns", region_name=SECONDARY_REGION)
    sqs = boto3.client("sqs", region_name=SECONDARY_REGION)
    topic = sns.create_topic(Name="gds-failover-operators")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="operators")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    harness.load(OPERATOR_TOPIC_ARN=topic, PROMOTION_MODE="dry-run")
    harness.invoke(event_file("promote-alarm.json", harness.now))
    (message,) = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["Subject"] == f"gds-failover DRY-RUN: would promote {SECONDARY_RG} ({SECONDARY_REGION}) [promote]"
    record = json.loads(body["Message"])
    assert (record["decision"], record["acted"], record["mode"]) == ("promote", False, "dry-run")
    assert harness.emulator.failover_calls == []


def test_invalid_configuration_fails_the_cold_start_naming_the_variable(harness: Harness) -> None:
    from gdfailover.config import ConfigError

    with pytest.raises(ConfigError, match="PROMOTION_MODE"):
        harness.load(PROMOTION_MODE="yolo")


def test_a_decision_is_logged_even_when_the_alarm_name_cannot_be_encoded(harness: Harness) -> None:
    # JSON may carry a lone surrogate (\ud800) that no UTF-8 stream can write; the line must still appear.
    result = harness.invoke(event_file("promote-alarm.json", harness.now, AlarmName="gds-\ud800-trigger"))
    assert (result["results"][0]["decision"], result["results"][0]["code"]) == ("noop", "foreign-alarm")
    (record,) = harness.decision_records()
    assert record["evidence"]["notification"]["alarm_name"] == "gds-\ud800-trigger"
    assert '"promotion decision: noop (foreign-alarm)"' in harness.output
