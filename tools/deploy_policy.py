"""The IAM policy a deployer needs for `make deploy` / `make delete`, generated from what the template creates.

    python -m tools.deploy_policy [--check]     (make docs writes docs/deploy-policy.json)

Every resource type the stack can create (tests/template/test_deploy_policy.py checks the list against
the transformed template in all its variants) contributes the permissions its CloudFormation handlers
declare (the registry schemas cfn-lint ships: ``handlers.create/read/update/delete.permissions``).
Those are granted on ``*`` but only when CloudFormation makes the call (``aws:CalledVia``): the deployer
cannot use them directly.
Direct permissions are scoped: CloudFormation on the stacks named ``gds-failover*`` and SAM CLI's own
stack, S3 on SAM CLI's artifact bucket, ``iam:PassRole`` on the stack's roles to the services that
run them.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from tools.cfn import ROOT

POLICY_DIR = ROOT / "docs" / "deploy-policy"
#: A customer managed policy holds at most 6,144 characters, whitespace not counted (IAM quotas).
MANAGED_POLICY_LIMIT = 6144
#: The stack name prefix the scoped statements assume (samconfig.toml's stack_name); docs/deploy.md says to
#: replace it when yours differs.
STACK_PREFIX = "gds-failover"

#: Every resource type the transformed template creates in any variant, plus SAM CLI's managed artifact
#: stack (`resolve_s3`: an S3 bucket and its policy).
RESOURCE_TYPES = (
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::DynamoDB::Table",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::VPCEndpoint",
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::KMS::Alias",
    "AWS::KMS::Key",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
    "AWS::Route53::HealthCheck",
    "AWS::Route53::HostedZone",
    "AWS::Route53::RecordSet",
    "AWS::SNS::Subscription",
    "AWS::SNS::Topic",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::Queue",
    "AWS::Scheduler::Schedule",
    "AWS::StepFunctions::StateMachine",
)
SAM_MANAGED_TYPES = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy")

HANDLERS = ("create", "read", "update", "delete")


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """CloudFormation registry schemas by type name, as cfn-lint ships them."""
    import cfnlint

    folder = Path(cfnlint.__file__).parent / "data" / "schemas" / "resources"
    schemas: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict) and isinstance(document.get("typeName"), str):
            schemas[document["typeName"]] = document
    return schemas


def handler_permissions(resource_type: str) -> set[str]:
    schema = _schemas().get(resource_type, {})
    declared = {
        permission
        for handler in HANDLERS
        for permission in (schema.get("handlers") or {}).get(handler, {}).get("permissions", [])
    }
    if not declared:
        raise KeyError(f"cfn-lint's schemas declare no handler permissions for {resource_type}")
    return declared


def _direct_statements() -> list[dict[str, Any]]:
    stacks = [
        f"arn:aws:cloudformation:*:*:stack/{STACK_PREFIX}*/*",
        "arn:aws:cloudformation:*:*:stack/aws-sam-cli-managed-default/*",
    ]
    return [
        {
            "Sid": "StacksOfThisApplication",
            "Effect": "Allow",
            "Action": [
                "cloudformation:CreateChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DeleteStack",
                "cloudformation:DescribeChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:DescribeStacks",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplate",
                "cloudformation:GetTemplateSummary",
                "cloudformation:ListStackResources",
                "cloudformation:TagResource",
            ],
            "Resource": stacks,
        },
        {
            "Sid": "TheServerlessTransform",
            "Effect": "Allow",
            "Action": "cloudformation:CreateChangeSet",
            "Resource": "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31",
        },
        {
            "Sid": "TemplateValidationHasNoResource",
            "Effect": "Allow",
            "Action": ["cloudformation:ValidateTemplate", "cloudformation:ListStacks"],
            "Resource": "*",
        },
        {
            "Sid": "SamCliArtifactBucket",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
            "Resource": [
                "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*",
                "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/*",
            ],
        },
        {
            "Sid": "PassTheStacksRolesToTheirServices",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": f"arn:aws:iam::*:role/{STACK_PREFIX}*",
            "Condition": {
                "StringEquals": {
                    "iam:PassedToService": ["lambda.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com"]
                }
            },
        },
    ]


def resource_actions() -> list[str]:
    """What CloudFormation's handlers call for every type the stack (and SAM CLI's artifact stack) creates."""
    types = (*RESOURCE_TYPES, *SAM_MANAGED_TYPES)
    return sorted({p for t in types for p in handler_permissions(t)} - {"iam:PassRole"})


def _through_cloudformation(sid: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": "*",
        "Condition": {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}},
    }


def size(document: dict[str, Any]) -> int:
    """Characters IAM counts against the managed policy quota (whitespace is not counted)."""
    return len(json.dumps(document, separators=(",", ":")))


def policies() -> dict[str, dict[str, Any]]:
    """The policy documents, by file name: the direct scoped statements first, then the resource actions
    (allowed only through CloudFormation) split by service so each fits a managed policy."""
    documents: dict[str, dict[str, Any]] = {
        "1-stacks.json": {"Version": "2012-10-17", "Statement": _direct_statements()}
    }
    by_service: dict[str, list[str]] = {}
    for action in resource_actions():
        by_service.setdefault(action.split(":")[0], []).append(action)
    batch: list[str] = []
    for service in sorted(by_service, key=lambda s: (-len(by_service[s]), s)):
        candidate = [*batch, *by_service[service]]
        trial = {"Version": "2012-10-17", "Statement": [_through_cloudformation("X", sorted(candidate))]}
        if batch and size(trial) > MANAGED_POLICY_LIMIT - 200:
            number = len(documents) + 1
            documents[f"{number}-resources.json"] = {
                "Version": "2012-10-17",
                "Statement": [_through_cloudformation(f"ResourcesOnlyThroughCloudFormation{number}", sorted(batch))],
            }
            candidate = by_service[service]
        batch = candidate
    number = len(documents) + 1
    documents[f"{number}-resources.json"] = {
        "Version": "2012-10-17",
        "Statement": [_through_cloudformation(f"ResourcesOnlyThroughCloudFormation{number}", sorted(batch))],
    }
    return documents


def rendered() -> dict[str, str]:
    return {name: json.dumps(document, indent=2) + "\n" for name, document in policies().items()}


def stale() -> list[str]:
    """Files of docs/deploy-policy that differ from what the template needs (or should not be there)."""
    wanted = rendered()
    present = {path.name for path in POLICY_DIR.glob("*.json")} if POLICY_DIR.is_dir() else set()
    return sorted(
        name
        for name in wanted.keys() | present
        if name not in wanted or name not in present or (POLICY_DIR / name).read_text(encoding="utf-8") != wanted[name]
    )


def write() -> list[str]:
    changed = stale()
    POLICY_DIR.mkdir(exist_ok=True)
    wanted = rendered()
    for name in changed:
        if name in wanted:
            (POLICY_DIR / name).write_text(wanted[name], encoding="utf-8")
        else:
            (POLICY_DIR / name).unlink()
    return [f"docs/deploy-policy/{name}" for name in changed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_policy", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/deploy-policy/ is stale")
    args = parser.parse_args(argv)
    if args.check:
        for name in stale():
            print(f"docs/deploy-policy/{name} is stale: run make docs")
        return 1 if stale() else 0
    for name in write():
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
