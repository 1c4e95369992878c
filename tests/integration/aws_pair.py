"""A deployed pair in moto: a small stand-in of template.yaml's stack (same parameters, the outputs the
tools read) created by CloudFormation itself, and a fake ``sam deploy`` that creates or updates it.

moto's CloudFormation has no AWS::CloudWatch::Alarm, so the writer alarm's name is only an output here
(``<stack>-writer-<group>-p60``: a made-up format, so a tool that guessed the real one would fail).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tools.cfn import load_template

ACCOUNT = "123456789012"  # moto's account
PRIMARY_REGION, SECONDARY_REGION = "us-east-1", "us-west-2"
GDS_ID = "ldgnf-orders"
PRIMARY_RG, SECONDARY_RG = "orders-use1", "orders-usw2"
PRIMARY_ENDPOINT = "master.orders-use1.q7rk2d.use1.cache.amazonaws.com"
SECONDARY_ENDPOINT = "master.orders-usw2.m3zt8w.usw2.cache.amazonaws.com"

SAMCONFIG = f"""
version = 0.1
[default.global.parameters]
stack_name = "gds-failover"

[primary.deploy.parameters]
stack_name = "gds-failover"
region = "{PRIMARY_REGION}"
parameter_overrides = [
    "FailoverRole=PRIMARY",
    "GlobalReplicationGroupId={GDS_ID}",
    "ReplicationGroupId={PRIMARY_RG}",
    "RedisPrimaryEndpoint={PRIMARY_ENDPOINT}",
    "VpcId=vpc-0a1b2c3d4e5f60718",
    "SubnetIds=subnet-0a1b2c3d4e5f60718,subnet-0a1b2c3d4e5f60719",
    "SecurityGroupIds=sg-0a1b2c3d4e5f60718",
    "PromotionMode=dry-run",
]

[secondary.deploy.parameters]
stack_name = "gds-failover"
region = "{SECONDARY_REGION}"
parameter_overrides = [
    "FailoverRole=SECONDARY",
    "GlobalReplicationGroupId={GDS_ID}",
    "ReplicationGroupId={SECONDARY_RG}",
    "RedisPrimaryEndpoint={SECONDARY_ENDPOINT}",
    "VpcId=vpc-0b1c2d3e4f5a60718",
    "SubnetIds=subnet-0b1c2d3e4f5a60718,subnet-0b1c2d3e4f5a60719",
    "SecurityGroupIds=sg-0b1c2d3e4f5a60718",
    "PromotionMode=dry-run",
]
"""


def write_samconfig(directory: Path, text: str = SAMCONFIG) -> Path:
    path = directory / "samconfig.toml"
    path.write_text(text, encoding="utf-8")
    return path


def stand_in_template() -> str:
    """template.yaml's parameters (all strings) and the outputs deploy, verify and the peer read."""
    parameters = {
        name: {"Type": "String", "Default": str(spec.get("Default", ""))}
        for name, spec in load_template()["Parameters"].items()
    }
    document = {
        "Parameters": parameters,
        "Conditions": {"CreateHostedZone": {"Fn::Equals": [{"Ref": "HostedZoneId"}, ""]}},
        "Resources": {
            "PromotionTopic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-promotion"}},
            },
            "OperatorTopicResource": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-operator"}},
            },
            "WriterHealthCheck": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {
                        "Type": "CLOUDWATCH_METRIC",
                        "AlarmIdentifier": {"Name": "writer", "Region": {"Ref": "AWS::Region"}},
                        "InsufficientDataHealthStatus": "Unhealthy",
                    }
                },
            },
            "PrivateHostedZone": {
                "Type": "AWS::Route53::HostedZone",
                "Condition": "CreateHostedZone",
                "Properties": {"Name": "internal"},
            },
        },
        "Outputs": {
            "HealthCheckId": {"Value": {"Ref": "WriterHealthCheck"}},
            "WriterAlarmName": {"Value": {"Fn::Sub": "${AWS::StackName}-writer-${ReplicationGroupId}-p60"}},
            "PromotionTriggerAlarmName": {"Value": {"Fn::Sub": "${AWS::StackName}-trigger-${ReplicationGroupId}"}},
            "PromotionTopicArn": {"Value": {"Ref": "PromotionTopic"}},
            "OperatorTopicArn": {"Value": {"Ref": "OperatorTopicResource"}},
            "PauseExpiryRoleArn": {
                "Value": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/${AWS::StackName}-PauseExpiryRole"}
            },
            "HostedZoneId": {
                "Value": {"Fn::If": ["CreateHostedZone", {"Ref": "PrivateHostedZone"}, {"Ref": "HostedZoneId"}]}
            },
            "ProbeStateMachineArn": {
                "Value": {
                    "Fn::Sub": "arn:aws:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-probe"
                }
            },
            "PromoteFunctionName": {"Value": {"Fn::Sub": "${AWS::StackName}-promote"}},
            "RecordName": {"Value": "redis.internal"},
            "LedgerTableName": {"Value": {"Fn::Sub": "${AWS::StackName}-LedgerTable-${ReplicationGroupId}"}},
        },
    }
    return json.dumps(document)


@dataclass
class FakeSamDeploy:
    """Stands in for ``sam deploy --config-env <env> --parameter-overrides ...``: creates or updates the
    stand-in stack in the environment's region with exactly the overrides on the command line, leaving
    the others at their previous value as sam does (UsePreviousValue)."""

    regions: dict[str, str]  # env -> region
    calls: list[list[str]] = field(default_factory=list)
    exit_status: int = 0

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        if self.exit_status:
            return self.exit_status
        env = argv[argv.index("--config-env") + 1]
        overrides = dict(shlex.split(item)[0].split("=", 1) for item in argv[argv.index("--parameter-overrides") + 1 :])
        deploy_stack(self.regions[env], overrides)
        return 0

    def overrides(self, call: int) -> dict[str, str]:
        argv = self.calls[call]
        return dict(shlex.split(item)[0].split("=", 1) for item in argv[argv.index("--parameter-overrides") + 1 :])


def deploy_stack(region: str, overrides: dict[str, str], stack_name: str = "gds-failover") -> None:
    cfn = boto3.client("cloudformation", region_name=region)
    live = [summary for summary in cfn.list_stacks()["StackSummaries"] if "DELETE" not in summary["StackStatus"]]
    exists = any(summary["StackName"] == stack_name for summary in live)
    # UsePreviousValue, resolved here: moto's update only knows the values passed at creation
    previous = stack(region, stack_name)[1] if exists else {}
    parameters: list[dict[str, Any]] = [
        {"ParameterKey": name, "ParameterValue": value} for name, value in {**previous, **overrides}.items()
    ]
    if exists:
        cfn.update_stack(StackName=stack_name, TemplateBody=stand_in_template(), Parameters=parameters)
    else:
        cfn.create_stack(StackName=stack_name, TemplateBody=stand_in_template(), Parameters=parameters)


def stack(region: str, stack_name: str = "gds-failover") -> tuple[dict[str, str], dict[str, str]]:
    """(outputs, parameters) of a stack."""
    described = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    return (
        {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
    )
