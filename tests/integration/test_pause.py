"""make pause / make resume against a deployed stack in moto (CloudFormation stand-in, DynamoDB ledger, STS,
CloudWatch Logs, SNS): the item the promoter reads, who and until, one-line errors, nothing changed on bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gdfailover.ledger import Pause, PromotionLedger
from tests.conftest import create_ledger_table
from tests.integration.aws_pair import ACCOUNT, GDS_ID, SECONDARY_REGION, SECONDARY_RG, deploy_stack, stack
from tests.integration.aws_pair import write_samconfig as write_pair_samconfig
from tools import pause as cli

NOW = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # moto's GetCallerIdentity


@dataclass
class Stack:
    samconfig: Path
    ledger: PromotionLedger
    queue_url: str

    def run(self, *argv: str) -> int:
        return cli.main(list(argv), clients=clients, samconfig=self.samconfig, now=lambda: NOW)

    def pages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=SECONDARY_REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def log_lines(self) -> list[dict[str, Any]]:
        events = boto3.client("logs", region_name=SECONDARY_REGION).filter_log_events(
            logGroupName="/aws/lambda/gds-failover-promote"
        )["events"]
        return [json.loads(event["message"]) for event in events]


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


def deploy_secondary(tmp_path: Path) -> Stack:
    """The secondary's stand-in stack, its ledger table, promote log group, and the operator topic read by a queue."""
    deploy_stack(
        SECONDARY_REGION,
        {"GlobalReplicationGroupId": GDS_ID, "ReplicationGroupId": SECONDARY_RG, "FailoverRole": "SECONDARY"},
    )
    outputs, _ = stack(SECONDARY_REGION)
    create_ledger_table(outputs["LedgerTableName"], SECONDARY_REGION)
    boto3.client("logs", region_name=SECONDARY_REGION).create_log_group(logGroupName="/aws/lambda/gds-failover-promote")
    sqs = boto3.client("sqs", region_name=SECONDARY_REGION)
    queue_url = sqs.create_queue(QueueName="pages")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=SECONDARY_REGION).subscribe(
        TopicArn=outputs["OperatorTopicArn"],
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    ledger = PromotionLedger(boto3.client("dynamodb", region_name=SECONDARY_REGION), outputs["LedgerTableName"])
    return Stack(write_pair_samconfig(tmp_path), ledger, queue_url)


@pytest.fixture
def secondary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    with mock_aws():
        yield deploy_secondary(tmp_path)


def test_pause_writes_who_why_and_until_then_resume_removes_it(
    secondary: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert secondary.run("pause", "--config-env", "secondary", "--reason", "load test", "--minutes", "90") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"paused automatic promotion of {GDS_ID} by {SECONDARY_RG} in {SECONDARY_REGION} until")
    pause = secondary.ledger.read_pause(GDS_ID)
    assert pause == Pause("load test", CALLER, NOW, NOW + timedelta(minutes=90))
    item = boto3.client("dynamodb", region_name=SECONDARY_REGION).get_item(
        TableName=stack(SECONDARY_REGION)[0]["LedgerTableName"], Key={"id": {"S": f"pause#{GDS_ID}"}}
    )["Item"]
    # the table's TTL attribute (template.yaml LedgerTable): deleted a day after the pause expired
    assert int(item["expiration"]["N"]) == int((NOW + timedelta(minutes=90, days=1)).timestamp())
    (page,) = secondary.pages()
    assert (page["operator_action"], page["who"], page["pause"]["reason"]) == ("pause", CALLER, "load test")
    assert secondary.log_lines()[0]["message"].startswith("operator pause: paused automatic promotion")

    assert secondary.run("resume", "--config-env", "secondary") == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"resumed automatic promotion by {SECONDARY_RG} in {SECONDARY_REGION}")
    assert "load test" in line
    assert secondary.ledger.read_pause(GDS_ID) is None
    assert [page["operator_action"] for page in secondary.pages()] == ["resume"]


def test_default_is_an_hour_and_a_new_pause_replaces_the_old(
    secondary: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert secondary.run("pause", "--config-env", "secondary", "--reason", "first") == 0
    pause = secondary.ledger.read_pause(GDS_ID)
    assert pause is not None
    assert pause.until == NOW + timedelta(minutes=60)
    assert secondary.run("pause", "--config-env", "secondary", "--reason", "second", "--minutes", "10080") == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert "(replaces the pause by" in line
    pause = secondary.ledger.read_pause(GDS_ID)
    assert pause is not None
    assert (pause.reason, pause.until) == ("second", NOW + timedelta(days=7))


def test_resume_without_a_pause_says_so(secondary: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert secondary.run("resume", "--config-env", "secondary") == 0
    assert capsys.readouterr().out.strip().endswith("was not paused: nothing to resume")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause", "--config-env", "secondary"], "REASON is required"),
        (["pause", "--config-env", "secondary", "--reason", "   "], "REASON is required"),
        (["pause", "--config-env", "secondary", "--reason", "a\nb"], "one line of printable text"),
        (["pause", "--config-env", "secondary", "--reason", "x" * 201], "keep it to 200"),
        (["pause", "--config-env", "secondary", "--reason", "r", "--minutes", "ten"], "MINUTES=ten must be a whole"),
        (["pause", "--config-env", "secondary", "--reason", "r", "--minutes", "0"], "from 1 to 10080"),
        (["pause", "--config-env", "secondary", "--reason", "r", "--minutes", "10081"], "from 1 to 10080"),
        (["pause", "--config-env", "nosuch", "--reason", "r"], "has no environment 'nosuch'"),
        (["resume", "--config-env", "nosuch"], "has no environment 'nosuch'"),
        (["stop", "--config-env", "secondary"], "invalid choice: 'stop'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    secondary: Stack, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert secondary.run(*argv) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert message in line
    assert captured.out == ""
    assert secondary.ledger.read_pause(GDS_ID) is None
    assert secondary.pages() == []


def test_a_stack_that_is_not_deployed_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        code = cli.main(
            ["pause", "--config-env", "secondary", "--reason", "r"],
            clients=clients,
            samconfig=write_pair_samconfig(tmp_path),
        )
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "make pause: gds-failover is not deployed in us-west-2 (make deploy CONFIG_ENV=secondary): no change made"
    )


@pytest.mark.parametrize("argv", [["pause", "--reason", "r"], ["resume"]])
def test_without_credentials_one_line_exit_2(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code = cli.main([argv[0], "--config-env", "secondary", *argv[1:]], samconfig=write_pair_samconfig(tmp_path))
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"make {argv[0]}: no AWS credentials found (environment, ~/.aws, SSO, instance role): no change made"
    )


def _expiry_schedule(name: str = "gds-failover-pause-expiry") -> dict[str, Any] | None:
    scheduler = boto3.client("scheduler", region_name=SECONDARY_REGION)
    try:
        return dict(scheduler.get_schedule(Name=name))
    except scheduler.exceptions.ResourceNotFoundException:
        return None


def test_the_pause_expiry_pages_through_a_one_time_schedule_that_a_resume_removes(secondary: Stack) -> None:
    """When the pause ends by itself, automatic promotion is back on: the operators are told then."""
    assert secondary.run("pause", "--config-env", "secondary", "--reason", "load test", "--minutes", "90") == 0
    schedule = _expiry_schedule()
    assert schedule is not None
    assert schedule["ScheduleExpression"] == "at(2026-12-03T23:30:00)"
    assert (schedule["ScheduleExpressionTimezone"], schedule["ActionAfterCompletion"]) == ("UTC", "DELETE")
    target = schedule["Target"]
    outputs, _ = stack(SECONDARY_REGION)
    assert (target["Arn"], target["RoleArn"]) == (cli.SNS_PUBLISH_TARGET, outputs["PauseExpiryRoleArn"])
    publish = json.loads(target["Input"])
    assert publish["TopicArn"] == outputs["OperatorTopicArn"]
    assert publish["Subject"] == f"gds-failover PAUSE EXPIRED for {SECONDARY_RG} ({SECONDARY_REGION})"
    assert json.loads(publish["Message"])["pause"]["reason"] == "load test"
    # a new pause moves the expiry page; a resume removes it
    assert secondary.run("pause", "--config-env", "secondary", "--reason", "longer", "--minutes", "120") == 0
    moved = _expiry_schedule()
    assert moved is not None
    assert moved["ScheduleExpression"] == "at(2026-12-04T00:00:00)"
    assert secondary.run("resume", "--config-env", "secondary") == 0
    assert _expiry_schedule() is None
