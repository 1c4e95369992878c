"""docs/deploy-policy/ covers every resource type the template creates, and stays in step with it."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from tests.template.stack import transformed
from tests.template.test_deployments import PEER
from tests.template.test_template import VARIANTS
from tools import deploy_policy

#: With VARIANTS, every condition that adds a resource type: three regions, the dashboard with its peer.
MORE_VARIANTS: dict[str, dict[str, str]] = {
    "three-regions-second": {
        "FailoverRole": "SECONDARY",
        "HostedZoneId": "Z0123456789ABCDEFGHIJ",
        "SecondaryDnsRank": "second",
        "SuccessionPeers": "us-east-1/rg-a/30/t-AAAA,us-west-2/rg-b/10/t-BBBB",
        "OperatorEmail": "sre@example.com",
    },
    "dashboard-with-peer": {"CreateDashboard": "true", **PEER},
}


@pytest.fixture(scope="module")
def variants() -> list[dict[str, Any]]:
    return [transformed(overrides) for overrides in (*VARIANTS.values(), *MORE_VARIANTS.values())]


def test_the_policy_knows_every_resource_type_the_template_creates(variants: list[dict[str, Any]]) -> None:
    created = {resource["Type"] for cfn in variants for resource in cfn["Resources"].values()}
    assert created == set(deploy_policy.RESOURCE_TYPES), "update RESOURCE_TYPES in tools/deploy_policy.py"


def test_the_committed_policy_is_the_generated_one() -> None:
    assert deploy_policy.stale() == [], "run `make docs`"


def _deployer_statements() -> list[dict[str, Any]]:
    return [
        statement
        for name, document in deploy_policy.policies().items()
        if name != "boundary.json"
        for statement in document["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_every_handler_permission_is_granted_only_through_cloudformation() -> None:
    through = [s for s in _deployer_statements() if "aws:CalledVia" in json.dumps(s.get("Condition", {}))]
    granted = {action for statement in through for action in _actions(statement)}
    left_out = {"iam:PassRole", *deploy_policy.NOT_IAM_ACTIONS, *deploy_policy.WITHHELD}
    for resource_type in (*deploy_policy.RESOURCE_TYPES, *deploy_policy.SAM_MANAGED_TYPES):
        missing = deploy_policy.handler_permissions(resource_type) - granted - left_out
        assert not missing, f"{resource_type}: {sorted(missing)}"
    for statement in through:
        assert statement["Condition"]["ForAnyValue:StringEquals"] == {"aws:CalledVia": ["cloudformation.amazonaws.com"]}


def test_only_iam_actions_and_none_withheld_are_granted() -> None:
    granted = {action for statement in _deployer_statements() for action in _actions(statement)}
    assert not granted & set(deploy_policy.NOT_IAM_ACTIONS)
    assert not granted & set(deploy_policy.WITHHELD)
    assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", action) for action in granted), "not an action name"
    assert not [a for a in granted if a.startswith(("iam:PutUser", "iam:PutGroup", "iam:DeleteRolePermissions"))]


def test_iam_and_lambda_reach_only_the_stacks_names() -> None:
    for statement in _deployer_statements():
        actions = _actions(statement)
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(a.startswith("iam:") and a != "iam:PassRole" for a in actions):
            assert all(
                r.startswith(("arn:aws:iam::*:role/gds-failover", "arn:aws:iam::*:role/aws-service-role/"))
                for r in resources
            ), statement["Sid"]
        if "*" in resources:
            assert {a for a in actions if a.startswith("lambda:")} <= set(deploy_policy.LAMBDA_UNSCOPED)
        if any(a.startswith("s3:") for a in actions):
            assert all("aws-sam-cli-managed-default-samclisourcebucket-" in r for r in resources), statement["Sid"]


def test_roles_are_created_and_changed_only_with_the_boundary() -> None:
    by_sid = {s["Sid"]: s for s in _deployer_statements()}
    for sid in ("RolesOfTheStacksOnlyWithTheBoundary", "OnlyTheManagedPoliciesSamAttaches"):
        assert by_sid[sid]["Condition"]["ArnLike"]["iam:PermissionsBoundary"] == deploy_policy.BOUNDARY_ARN
    changes_permissions = {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary",
    }
    for statement in _deployer_statements():
        if changes_permissions & set(_actions(statement)):
            assert "iam:PermissionsBoundary" in json.dumps(statement["Condition"]), statement["Sid"]


def test_every_role_carries_the_boundary_parameter(variants: list[dict[str, Any]]) -> None:
    boundary = {"Fn::If": ["HasPermissionsBoundary", {"Ref": "PermissionsBoundaryArn"}, {"Ref": "AWS::NoValue"}]}
    for cfn in variants:
        for name, resource in cfn["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role":
                assert resource["Properties"].get("PermissionsBoundary") == boundary, name


def test_the_boundary_allows_everything_the_roles_do() -> None:
    """Every action of every role in every lint variant, on each of its resources, fits a boundary statement
    (the AWS managed policies SAM attaches included)."""
    from tools import iam_lint

    boundary = deploy_policy.boundary()["Statement"]

    def allowed(action: str, resource: str) -> bool:
        return any(
            any(fnmatch.fnmatchcase(action, pattern) for pattern in _actions(statement))
            and any(
                fnmatch.fnmatchcase(resource, pattern)
                for pattern in (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
            )
            for statement in boundary
        )

    policies = [p for p in iam_lint.main_template_policies() if not p.resource_policy]
    for policy in policies:
        for statement in iam_lint._listed(policy.document["Statement"]):
            resources = iam_lint._listed(statement["Resource"])
            for action in {a for pattern in iam_lint._listed(statement["Action"]) for a in iam_lint.expand(pattern)}:
                for resource in resources:
                    assert allowed(action, resource), f"{policy.source}: {action} on {resource}"
    managed = {
        "logs:CreateLogGroup": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gds-failover-probe",
        "logs:PutLogEvents": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/gds-failover-p:log-stream:x",
        "ec2:CreateNetworkInterface": "*",
        "ec2:DescribeSubnets": "*",
        "xray:PutTraceSegments": "*",
        "xray:GetSamplingStatisticSummaries": "*",
    }
    for action, resource in managed.items():
        assert allowed(action, resource), action


def test_each_document_fits_a_managed_policy() -> None:
    for name, document in deploy_policy.policies().items():
        assert deploy_policy.size(document) <= deploy_policy.MANAGED_POLICY_LIMIT, name


def test_pass_role_covers_exactly_the_services_the_stack_roles_trust(variants: list[dict[str, Any]]) -> None:
    (pass_role,) = [s for s in deploy_policy.policies()["1-stacks.json"]["Statement"] if s["Action"] == "iam:PassRole"]
    allowed = set(pass_role["Condition"]["StringEquals"]["iam:PassedToService"])
    trusted = {
        principal
        for cfn in variants
        for resource in cfn["Resources"].values()
        if resource["Type"] == "AWS::IAM::Role"
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for principal in (
            statement["Principal"]["Service"]
            if isinstance(statement["Principal"]["Service"], list)
            else [statement["Principal"]["Service"]]
        )
    }
    assert trusted == allowed


def test_actions_are_placed_by_hand_only_while_parliament_lacks_them() -> None:
    from tools.iam_lint import expand

    for action in deploy_policy.NEWER_NAME_SCOPED:
        assert not expand(action), f"parliament knows {action} now: drop it from NEWER_NAME_SCOPED"
