"""docs/deploy-policy/ covers every resource type the template creates, and stays in step with it."""

from __future__ import annotations

import json
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


def test_every_handler_permission_is_granted_only_through_cloudformation() -> None:
    documents = deploy_policy.policies()
    statements = [s for document in documents.values() for s in document["Statement"]]
    through = [s for s in statements if "aws:CalledVia" in json.dumps(s.get("Condition", {}))]
    granted = {action for statement in through for action in statement["Action"]}
    for resource_type in (*deploy_policy.RESOURCE_TYPES, *deploy_policy.SAM_MANAGED_TYPES):
        missing = deploy_policy.handler_permissions(resource_type) - granted - {"iam:PassRole"}
        assert not missing, f"{resource_type}: {sorted(missing)}"
    for statement in through:
        assert statement["Condition"] == {
            "ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}
        }


def test_direct_permissions_are_scoped() -> None:
    direct = deploy_policy.policies()["1-stacks.json"]["Statement"]
    for statement in direct:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement["Sid"]
        if statement["Resource"] == "*":  # no resource-level permissions exist for these
            assert set(actions) <= {"cloudformation:ValidateTemplate", "cloudformation:ListStacks"}


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
