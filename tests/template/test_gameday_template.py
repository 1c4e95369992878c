"""examples/gameday/template.yaml against what make gameday expects of it and the least-privilege rules.
(cfn-lint and checkov run on it in .ci/example-gates.)"""

from __future__ import annotations

from typing import Any

import pytest

from tools.cfn import ROOT, load_template
from tools.gameday.experiments import DATASTORE_TAG, EXPERIMENT_TAG, EXPERIMENTS

GAMEDAY = ROOT / "examples" / "gameday" / "template.yaml"
TARGET_TAG = "gds-failover-gameday"
#: Actions on Resource "*" the role may have, each one read-only or accepting no resource ARN
#: (Service Authorization Reference); every other action must name this account's resources.
STAR_ALLOWED = {
    "tag:GetResources",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeManagedPrefixLists",
    "logs:CreateLogDelivery",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
FAULT_ACTIONS = {"elasticache:InterruptClusterAzPower", "ec2:ReplaceNetworkAclAssociation"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(GAMEDAY)


def experiment_templates(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        props["Tags"][EXPERIMENT_TAG]: props
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::FIS::ExperimentTemplate"
        for props in [resource["Properties"]]
    }


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["ExperimentRole"]["Properties"]
    return [statement for policy in role["Policies"] for statement in policy["PolicyDocument"]["Statement"]]


def test_one_template_per_experiment_tagged_as_make_gameday_finds_it(template: dict[str, Any]) -> None:
    found = experiment_templates(template)
    assert set(found) == set(EXPERIMENTS)
    for props in found.values():
        assert props["Tags"][DATASTORE_TAG] == {"Ref": "GlobalReplicationGroupId"}


def test_actions_are_the_documented_ones_on_tag_selected_targets(template: dict[str, Any]) -> None:
    found = experiment_templates(template)
    expected = {
        "in-region-failover": (
            "aws:elasticache:replicationgroup-interrupt-az-power",
            "aws:elasticache:replicationgroup",
        ),
        "writer-unreachable": ("aws:network:disrupt-connectivity", "aws:ec2:subnet"),
    }
    for name, (action_id, resource_type) in expected.items():
        props = found[name]
        (action,) = props["Actions"].values()
        assert action["ActionId"] == action_id
        assert "duration" in action["Parameters"]
        (target,) = props["Targets"].values()
        assert target["ResourceType"] == resource_type
        assert target["ResourceTags"] == {TARGET_TAG: name}
        assert "ResourceArns" not in target  # the AZ power action rejects ARNs; tags for both
    assert found["writer-unreachable"]["Actions"]["disrupt-connectivity"]["Parameters"]["scope"] == "all"
    zone = found["in-region-failover"]["Targets"]["WriterReplicationGroup"]["Parameters"]
    assert zone == {"availabilityZoneIdentifier": {"Ref": "PrimaryAvailabilityZone"}}  # make gameday reads it


def test_every_experiment_has_the_abort_alarm_as_stop_condition_and_logs(template: dict[str, Any]) -> None:
    for props in experiment_templates(template).values():
        assert {"Source": "aws:cloudwatch:alarm", "Value": {"Fn::GetAtt": ["AbortAlarm", "Arn"]}} in props[
            "StopConditions"
        ]
        assert props["LogConfiguration"]["CloudWatchLogsConfiguration"]["LogGroupArn"] == {
            "Fn::GetAtt": ["ExperimentLogGroup", "Arn"]
        }
        assert props["ExperimentOptions"]["EmptyTargetResolutionMode"] == "fail"


def test_only_read_and_log_delivery_actions_are_on_star(template: dict[str, Any]) -> None:
    for statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Resource"] == "*":
            assert set(actions) <= STAR_ALLOWED, statement["Sid"]
        else:
            assert "${AWS::AccountId}" in statement["Resource"]["Fn::Sub"], statement["Sid"]


def test_fault_actions_need_the_game_day_tag_or_the_vpc(template: dict[str, Any]) -> None:
    for statement in statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if set(actions) & FAULT_ACTIONS:
            condition = statement["Condition"]["StringEquals"]
            assert f"aws:ResourceTag/{TARGET_TAG}" in condition or "ec2:Vpc" in condition, statement["Sid"]
        if {"ec2:DeleteNetworkAcl", "ec2:CreateNetworkAclEntry"} & set(actions):
            assert statement["Condition"]["StringEquals"] == {"ec2:ResourceTag/managedByFIS": "true"}


def test_the_role_trusts_fis_of_this_account_only(template: dict[str, Any]) -> None:
    (trust,) = template["Resources"]["ExperimentRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "fis.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
