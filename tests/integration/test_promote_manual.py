"""make promote against a deployed secondary in moto (CloudFormation stand-in, Lambda configuration, DynamoDB
ledger, CloudWatch metrics and logs, SNS, STS) with the Global Datastore emulator behind real ElastiCache
clients (botocore's model validates every request, as Stubber does) and one test on botocore's Stubber itself.
Time is a FakeClock: the wait until PRIMARY is a budget, never slept."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from gdfailover.clock import FakeClock
from gdfailover.ledger import Pause, PromotionLedger
from tests.conftest import create_ledger_table
from tests.integration.aws_pair import (
    ACCOUNT,
    GDS_ID,
    PRIMARY_REGION,
    PRIMARY_RG,
    SECONDARY_REGION,
    SECONDARY_RG,
    deploy_stack,
    stack,
    write_samconfig,
)
from tools import promote as cli
from tools.gds_emulator import GdsEmulator

CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # moto's GetCallerIdentity
CONFIRM = f"{ACCOUNT}:{GDS_ID}"
LOG_GROUP = "/aws/lambda/gds-failover-promote"


@dataclass
class Secondary:
    samconfig: Path
    now: datetime
    emulator: GdsEmulator
    ledger: PromotionLedger
    queue_url: str
    clock: FakeClock = field(init=False)
    stubbed: dict[str, Stubber] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clock = FakeClock(self.now)

    def clients(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        if service == "elasticache":
            if region in self.stubbed:
                return self.stubbed[region].client
            self.emulator.attach(client)
        return client

    def run(self, *argv: str, confirm: str = CONFIRM, reason: str = "us-east-1 is down (AWS Health)") -> int:
        args = ["--config-env", "secondary", "--confirm", confirm, "--reason", reason, *argv]
        return cli.main(args, clients=self.clients, samconfig=self.samconfig, clock=self.clock)

    def pages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=SECONDARY_REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def records(self) -> list[dict[str, Any]]:
        logs = boto3.client("logs", region_name=SECONDARY_REGION)
        events = logs.filter_log_events(logGroupName=LOG_GROUP)["events"]
        return [json.loads(event["message"])["decision_record"] for event in events]


def seed_probe_metrics(now: datetime, reachable: float = 1.0) -> None:
    """This region's probe: replica answering, HeartbeatAge flat then climbing (the writer stopped)."""
    dimensions = [{"Name": "service", "Value": "gds-failover"}, {"Name": "ReplicationGroupId", "Value": SECONDARY_RG}]
    ages = (30, 31, 29, 90, 150)
    data = [
        {
            "MetricName": "HeartbeatAge",
            "Dimensions": dimensions,
            "Timestamp": now - timedelta(minutes=5 - i),
            "Value": a,
        }
        for i, a in enumerate(ages)
    ]
    data.append(
        {
            "MetricName": "Reachable",
            "Dimensions": dimensions,
            "Timestamp": now - timedelta(seconds=70),
            "Value": reachable,
        }
    )
    boto3.client("cloudwatch", region_name=SECONDARY_REGION).put_metric_data(Namespace="Custom/Redis", MetricData=data)


def create_promote_function(outputs: dict[str, str], mode: str = "notify") -> None:
    """The promoter's configuration as template.yaml sets it (moto stores it; nothing is invoked)."""
    role = boto3.client("iam").create_role(
        RoleName="promote", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return None\n")
    boto3.client("lambda", region_name=SECONDARY_REGION).create_function(
        FunctionName=outputs["PromoteFunctionName"],
        Runtime="python3.13",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Environment={
            "Variables": {
                "GLOBAL_REPLICATION_GROUP_ID": GDS_ID,
                "REPLICATION_GROUP_ID": SECONDARY_RG,
                "LEDGER_TABLE_NAME": outputs["LedgerTableName"],
                "TRIGGER_ALARM_NAMES": outputs["PromotionTriggerAlarmName"],
                "OPERATOR_TOPIC_ARN": outputs["OperatorTopicArn"],
                "PROMOTION_MODE": mode,  # a human's promotion acts whatever the mode
                "COOLDOWN_MINUTES": "60",
                "FAILOVER_WAIT_SECONDS": "120",
                "ACCOUNT_ID": ACCOUNT,
            }
        },
    )


@pytest.fixture
def secondary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Secondary]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", SECONDARY_REGION)
    with mock_aws():
        deploy_stack(
            SECONDARY_REGION,
            {"GlobalReplicationGroupId": GDS_ID, "ReplicationGroupId": SECONDARY_RG, "FailoverRole": "SECONDARY"},
        )
        outputs, _ = stack(SECONDARY_REGION)
        create_ledger_table(outputs["LedgerTableName"], SECONDARY_REGION)
        boto3.client("logs", region_name=SECONDARY_REGION).create_log_group(logGroupName=LOG_GROUP)
        create_promote_function(outputs)
        sqs = boto3.client("sqs", region_name=SECONDARY_REGION)
        queue_url = sqs.create_queue(QueueName="pages")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns", region_name=SECONDARY_REGION).subscribe(
            TopicArn=outputs["OperatorTopicArn"], Protocol="sqs", Endpoint=queue_arn
        )
        now = datetime.now(UTC).replace(microsecond=0)
        seed_probe_metrics(now)
        emulator = GdsEmulator(
            gds_id=GDS_ID,
            roles={PRIMARY_RG: (PRIMARY_REGION, "PRIMARY"), SECONDARY_RG: (SECONDARY_REGION, "SECONDARY")},
        )
        emulator.unreachable_regions.add(PRIMARY_REGION)  # us-east-1 is gone: why a human promotes
        ledger = PromotionLedger(boto3.client("dynamodb", region_name=SECONDARY_REGION), outputs["LedgerTableName"])
        yield Secondary(write_samconfig(tmp_path), now, emulator, ledger, queue_url)


def test_a_guarded_promotion_fails_over_once_and_records_who_and_why(
    secondary: Secondary, capsys: pytest.CaptureFixture[str]
) -> None:
    assert secondary.run() == 0
    out = capsys.readouterr().out
    assert f"make promote {SECONDARY_RG} in {SECONDARY_REGION} ({GDS_ID}), by {CALLER}" in out
    assert "the promoter would now: hold (no-outside-confirmation)" in out  # what it saw, and why it did not act
    assert [call.params for call in secondary.emulator.failover_calls] == [
        {
            "GlobalReplicationGroupId": GDS_ID,
            "PrimaryRegion": SECONDARY_REGION,
            "PrimaryReplicationGroupId": SECONDARY_RG,
        }
    ]
    assert secondary.emulator.roles[SECONDARY_RG] == (SECONDARY_REGION, "PRIMARY")
    latch = secondary.ledger.read(GDS_ID)
    assert latch is not None
    assert latch.holder.startswith(f"make promote by {CALLER} at ")
    assert latch.outcome == "failover primary"
    (record,) = secondary.records()  # the same decision record as an automatic promotion, in the same log group
    assert (record["decision"], record["code"], record["acted"]) == ("promote", "manual-promote", True)
    assert record["action"]["by"] == CALLER
    assert record["action"]["why"] == "us-east-1 is down (AWS Health)"
    assert record["action"]["result"] == "primary"
    (page,) = secondary.pages()
    assert page["Subject"] == f"gds-failover PROMOTED {SECONDARY_RG} ({SECONDARY_REGION}): primary"
    assert json.loads(page["Message"])["code"] == "manual-promote"
    metrics = boto3.client("cloudwatch", region_name=SECONDARY_REGION).list_metrics(MetricName="PromotionDecision")
    (metric,) = metrics["Metrics"]
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {"service": "gds-failover", "Decision": "promote"}


def test_dry_run_prints_the_evidence_and_the_plan_and_changes_nothing(
    secondary: Secondary, capsys: pytest.CaptureFixture[str]
) -> None:
    assert secondary.run("--dry-run") == 0
    out = capsys.readouterr().out
    assert "this region's replica: Reachable 1.0 at" in out
    assert (
        "dry run, would: take the promotion latch (cooldown 60 min), "
        f"FailoverGlobalReplicationGroup(PrimaryRegion={SECONDARY_REGION}" in out
    )
    assert secondary.emulator.failover_calls == []
    assert secondary.ledger.read(GDS_ID) is None
    assert secondary.records() == []
    assert secondary.pages() == []


def test_an_active_pause_does_not_stop_a_human_and_is_shown(
    secondary: Secondary, capsys: pytest.CaptureFixture[str]
) -> None:
    secondary.ledger.pause(
        GDS_ID, Pause("game day", "arn:aws:iam::1:user/ana", secondary.now, secondary.now + timedelta(hours=1))
    )
    assert secondary.run() == 0
    assert "automatic promotion paused until" in capsys.readouterr().out
    assert len(secondary.emulator.failover_calls) == 1


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda s: seed_probe_metrics(s.now + timedelta(seconds=30), reachable=0.0), "local-replica-down"),
        (lambda s: s.clock.advance(600), "local-health-stale"),
        (lambda s: setattr(s.emulator, "status", "creating"), "datastore-not-available"),
        (lambda s: setattr(s.emulator, "status", "modifying"), "datastore-modifying"),
        (
            lambda s: setattr(
                s.emulator,
                "roles",
                {PRIMARY_RG: (PRIMARY_REGION, "SECONDARY"), SECONDARY_RG: (SECONDARY_REGION, "PRIMARY")},
            ),
            "already-primary",
        ),
        (lambda s: s.ledger.acquire(GDS_ID, "sns-message-1", s.now, timedelta(minutes=60)), "cooldown"),
    ],
    ids=["replica-down", "probe-silent", "not-available", "modifying", "already-primary", "latched"],
)
def test_a_guard_refuses_in_one_line_exit_1_and_calls_no_failover(
    secondary: Secondary, capsys: pytest.CaptureFixture[str], setup: Any, code: str
) -> None:
    setup(secondary)
    assert secondary.run() == 1
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"refused ({code}): ")
    assert last.endswith("; no change made")
    assert secondary.emulator.failover_calls == []
    assert secondary.records() == []


def test_a_rejected_failover_releases_the_latch_records_it_and_exits_2(
    secondary: Secondary, capsys: pytest.CaptureFixture[str]
) -> None:
    secondary.emulator.fail_next("FailoverGlobalReplicationGroup", "InvalidGlobalReplicationGroupState")
    assert secondary.run() == 2
    assert "result: hold (failover-rejected)" in capsys.readouterr().out
    assert secondary.ledger.read(GDS_ID) is None
    (record,) = secondary.records()
    assert (record["code"], record["action"]["by"]) == ("failover-rejected", CALLER)


@pytest.mark.parametrize(
    ("confirm", "reason", "message"),
    [
        (f"999999999999:{GDS_ID}", "r", f"does not name this account and datastore: it is {CONFIRM}"),
        (f"{ACCOUNT}:ldgnf-other", "r", f"does not name this account and datastore: it is {CONFIRM}"),
        (GDS_ID, "r", f"CONFIRM={GDS_ID} is not <12-digit account id>:<Global Datastore id>"),
        (f"{ACCOUNT}:{GDS_ID};x", "r", "is not <12-digit account id>:<Global Datastore id>"),
        (CONFIRM, "", "REASON is required"),
        (CONFIRM, "two\nlines", "REASON must be one line of printable text"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_changes(
    secondary: Secondary, capsys: pytest.CaptureFixture[str], confirm: str, reason: str, message: str
) -> None:
    assert secondary.run(confirm=confirm, reason=reason) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("make promote: ")
    assert message in line
    assert line.endswith(": no change made")
    assert captured.out == ""
    assert secondary.emulator.calls == []


def test_a_stubbed_modifying_datastore_is_refused_after_one_describe(
    secondary: Secondary, capsys: pytest.CaptureFixture[str]
) -> None:
    """botocore's own Stubber: the one DescribeGlobalReplicationGroups in this region, nothing after it."""
    stubber = Stubber(boto3.client("elasticache", region_name=SECONDARY_REGION))
    member = {"ReplicationGroupRegion": SECONDARY_REGION, "ReplicationGroupId": SECONDARY_RG, "Role": "SECONDARY"}
    primary = {"ReplicationGroupRegion": PRIMARY_REGION, "ReplicationGroupId": PRIMARY_RG, "Role": "PRIMARY"}
    stubber.add_response(
        "describe_global_replication_groups",
        {
            "GlobalReplicationGroups": [
                {
                    "GlobalReplicationGroupId": GDS_ID,
                    "Status": "modifying",
                    "Members": [{**primary, "Status": "associated"}, {**member, "Status": "associated"}],
                }
            ]
        },
        {"GlobalReplicationGroupId": GDS_ID, "ShowMemberInfo": True},
    )
    secondary.stubbed[SECONDARY_REGION] = stubber
    with stubber:
        assert secondary.run() == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("refused (datastore-modifying): ")
    stubber.assert_no_pending_responses()


def test_without_credentials_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    argv = ["--config-env", "secondary", "--confirm", CONFIRM, "--reason", "r"]
    assert cli.main(argv, samconfig=write_samconfig(tmp_path)) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("make promote: no AWS credentials found (environment, ~/.aws, SSO, instance role): no change made")
