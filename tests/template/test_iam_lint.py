"""The IAM policy lint (tools/iam_lint.py): clean on the repository, and failing on each finding of issue 22
when it comes back (the old statements fed to it as they were)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.template.stack import REQUIRED_PARAMETERS, sam_template, transformed
from tools import iam_lint
from tools.iam_lint import Finding, Policy

CALLED_VIA = {"ForAnyValue:StringEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]}}


def lint(source: str, *statements: dict[str, Any]) -> list[Finding]:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return iam_lint.lint_policy(Policy(source, document), iam_lint.load_allowlist())


def kinds(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.kind, f.detail.split(" ")[0]) for f in findings}


def test_the_repository_is_clean() -> None:
    allowlist = iam_lint.load_allowlist()
    findings = iam_lint.run(iam_lint.all_policies(), allowlist)
    assert findings == [], "\n".join(map(str, findings))


def test_it_reads_every_kind_of_source() -> None:
    sources = {policy.source.split("[")[0].split(":")[0] for policy in iam_lint.all_policies()}
    assert {"template.yaml", "examples/gameday/template.yaml", "examples/datastore/template.yaml"} <= sources
    assert {"docs/deploy-policy/1-stacks.json", "docs/deploy-policy/boundary.json"} <= sources


def test_the_variants_turn_on_every_condition_that_adds_a_policy() -> None:
    """Each condition that gates a role policy, an AWS::IAM::Policy or a statement holds in some variant."""
    template = sam_template()
    gating: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if "Fn::If" in node:
                gating.add(node["Fn::If"][0])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        collect(props.get("Policies"))
        if resource["Type"] == "AWS::IAM::Policy":
            gating.add(resource.get("Condition", ""))
            collect(props.get("PolicyDocument"))
    gating.discard("")
    held: set[str] = set()
    for overrides in iam_lint.VARIANTS.values():
        resolver = iam_lint._Resolver(transformed(overrides), {**REQUIRED_PARAMETERS, **overrides})
        held |= {name for name in gating if resolver.condition(name)}
    assert gating
    assert held == gating, f"no variant turns on {sorted(gating - held)}"


# --- finding 1: the admin-equivalent deployer policy ----------------------------------------------------

OLD_DEPLOYER_STATEMENT = {
    "Sid": "ResourcesOnlyThroughCloudFormation2",
    "Effect": "Allow",
    "Action": [
        "iam:AttachRolePolicy",
        "iam:CreateRole",
        "iam:PutGroupPolicy",
        "iam:PutRolePolicy",
        "iam:PutUserPolicy",
        "lambda:UpdateFunctionCode",
        "s3:PutBucketPolicy",
    ],
    "Resource": "*",
    "Condition": CALLED_VIA,
}


def test_finding_1_iam_lambda_and_bucket_policies_on_star_fail() -> None:
    found = kinds(lint("docs/deploy-policy/2-resources.json", OLD_DEPLOYER_STATEMENT))
    for action in OLD_DEPLOYER_STATEMENT["Action"]:
        assert ("STAR_ON_MUTATING", action) in found, action


def test_finding_1_the_services_allowlisted_on_star_are_only_those_with_a_reason() -> None:
    """ec2, kms and route53 on "*" pass only because the allowlist says why; another service does not."""
    statement = {**OLD_DEPLOYER_STATEMENT, "Action": ["ec2:CreateSecurityGroup", "sns:CreateTopic"]}
    found = kinds(lint("docs/deploy-policy/4-resources.json", statement))
    assert ("STAR_ON_MUTATING", "sns:CreateTopic") in found
    assert ("STAR_ON_MUTATING", "ec2:CreateSecurityGroup") not in found


# --- finding 2: a resource the action does not take ----------------------------------------------------


def test_finding_2_the_replication_group_arn_in_the_failover_statement_fails() -> None:
    """The promoter's old statement, put back into template.yaml and transformed: the member's ARN is dead."""
    template = copy.deepcopy(sam_template())
    statements = template["Resources"]["PromoteFunction"]["Properties"]["Policies"][0]["Statement"]
    (failover,) = [s for s in statements if isinstance(s, dict) and s.get("Sid") == "FailoverThisGlobalDatastore"]
    failover["Resource"] = [
        failover["Resource"],
        {"Fn::Sub": "arn:${AWS::Partition}:elasticache:${AWS::Region}:${AWS::AccountId}:replicationgroup:rg-a"},
    ]
    policies = iam_lint.template_policies(transformed(template=template), dict(REQUIRED_PARAMETERS), "template.yaml")
    findings = iam_lint.run(list(policies), [])
    dead = [f for f in findings if f.kind == "DEAD_RESOURCE"]
    assert [f.sid for f in dead] == ["FailoverThisGlobalDatastore"]
    assert "replicationgroup:rg-a is taken by none of elasticache:FailoverGlobalReplicationGroup" in dead[0].detail


def test_finding_2_an_action_none_of_whose_resources_fit_fails() -> None:
    statement = {
        "Sid": "Detach",
        "Effect": "Allow",
        "Action": "elasticache:DisassociateGlobalReplicationGroup",
        "Resource": "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:rg-a",
    }
    found = kinds(lint("template.yaml", statement))
    assert ("ACTION_WITHOUT_RESOURCE", "elasticache:DisassociateGlobalReplicationGroup") in found
    assert ("DEAD_RESOURCE", "arn:aws:elasticache:us-east-1:123456789012:replicationgroup:rg-a") in found


def test_finding_2_a_condition_key_the_action_does_not_support_fails() -> None:
    statement = {
        "Sid": "PromoteOnlyHere",
        "Effect": "Allow",
        "Action": "elasticache:FailoverGlobalReplicationGroup",
        "Resource": "arn:aws:elasticache::123456789012:globalreplicationgroup:ldgnf-gds",
        "Condition": {"StringEquals": {"elasticache:ReplicationGroupId": "rg-a"}},
    }
    found = lint("template.yaml", statement)
    assert [f.kind for f in found] == ["UNKNOWN_CONDITION_FOR_ACTION"]
    assert (
        "elasticache:FailoverGlobalReplicationGroup does not support elasticache:ReplicationGroupId" in found[0].detail
    )


def test_a_tag_condition_on_an_action_without_tags_fails() -> None:
    """aws:ResourceTag is global but present only for actions and resource types that support it."""
    tagged = {
        "Sid": "EventsOfTaggedGroups",
        "Effect": "Allow",
        "Action": ["elasticache:DescribeEvents", "elasticache:InterruptClusterAzPower"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/gds-failover-gameday": "in-region-failover"}},
    }
    found = lint("examples/gameday/template.yaml:ExperimentRole/x", tagged)
    assert [(f.kind, f.detail) for f in found if f.kind == "UNKNOWN_CONDITION_FOR_ACTION"] == [
        (
            "UNKNOWN_CONDITION_FOR_ACTION",
            "elasticache:DescribeEvents does not support aws:ResourceTag/gds-failover-gameday",
        )
    ]


def test_a_resource_type_required_elsewhere_in_the_policy_is_enough() -> None:
    """IAM authorizes each resource of a request against all statements: the game day's CreateNetworkAcl is
    split over a VPC statement and a network-acl statement, and that is fine; one alone is not."""
    vpc = {
        "Sid": "InThisVpc",
        "Effect": "Allow",
        "Action": "ec2:CreateNetworkAcl",
        "Resource": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
    }
    acl = {**vpc, "Sid": "TaggedAcls", "Resource": "arn:aws:ec2:us-east-1:123456789012:network-acl/*"}
    assert lint("template.yaml", vpc, acl) == []
    assert [f.kind for f in lint("template.yaml", vpc)] == ["RESOURCE_MISMATCH"]


# --- finding 3 lives in the template's pattern and preflight (test_template.py, test_preflight.py) -------

# --- finding 4: S3 API names that are not IAM actions ---------------------------------------------------


@pytest.mark.parametrize("action", ["s3:REST.PUT.OBJECT", "s3:DeleteBucketCors", "s3:GetObjectMetadata"])
def test_finding_4_api_names_that_are_not_actions_fail(action: str) -> None:
    statement = {
        "Sid": "SamCliArtifactBucketOnly",
        "Effect": "Allow",
        "Action": ["s3:GetObject", action],
        "Resource": "arn:aws:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/*",
        "Condition": CALLED_VIA,
    }
    found = lint("docs/deploy-policy/2-scoped.json", statement)
    assert [(f.kind, f.detail.split(" ")[0]) for f in found] == [("UNKNOWN_ACTION", action)]


# --- the allowlist ---------------------------------------------------------------------------------------


def test_an_allowlist_entry_that_matches_nothing_fails() -> None:
    entry = iam_lint.Entry(kind="star", action="sqs:*", reason="no longer needed", source="nowhere")
    findings = iam_lint.run([], [entry])
    assert [f.kind for f in findings] == ["UNUSED_ALLOWLIST_ENTRY"]


def test_every_allowlist_entry_says_why() -> None:
    for entry in iam_lint.load_allowlist():
        assert len(entry.reason) > 30, entry.action


def test_a_bad_allowlist_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "allowlist.toml"
    bad.write_text('[[star]]\naction = "ec2:*"\n', encoding="utf-8")
    monkeypatch.setattr(iam_lint, "ALLOWLIST", bad)
    assert iam_lint.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "needs an action and a reason" in err[0]


def test_the_lint_passes_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    assert iam_lint.main([]) == 0
    assert capsys.readouterr().out.strip().endswith("clean")
