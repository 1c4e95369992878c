"""Deployments as a whole: one dashboard per deployment, and two deployments side by side in one account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.template.test_three_regions import ZONE, Evaluated, Stack
from tools.cfn import condition_holds, load_template, parameter_defaults

PEER = {
    "PeerReplicationGroupId": "rg-b",
    "PeerWriterAlarmName": "gds-failover-writer-rg-b-HealthCheckStatus-Maximum-lt1-p60-x1-missing-breaching",
    "PeerPromotionTopicArn": "arn:aws:sns:us-west-2:123456789012:gds-failover-promotion",
    "PeerHealthCheckId": "11111111-2222-3333-4444-555555555555",
}


def dashboard_exists(parameters: dict[str, str]) -> bool:
    template = load_template()
    return condition_holds(template, "CreatesDashboard", {**parameter_defaults(template), **parameters})


@pytest.mark.parametrize(
    ("role", "choice", "expected"),
    [
        ("PRIMARY", "auto", True),
        ("SECONDARY", "auto", False),
        ("SECONDARY", "true", True),
        ("PRIMARY", "false", False),
    ],
)
def test_only_the_primary_record_stack_creates_the_dashboard_by_default(role: str, choice: str, expected: bool) -> None:
    assert dashboard_exists({"FailoverRole": role, "CreateDashboard": choice}) is expected
    overrides = {"FailoverRole": role, "CreateDashboard": choice}
    if role == "SECONDARY":
        overrides["HostedZoneId"] = ZONE
    stack = Evaluated(Stack("A", "us-east-1", overrides))
    assert stack.exists("Dashboard") is expected
    assert "DashboardUrl" in stack.cfn["Outputs"]
    assert stack.cfn["Outputs"]["DashboardUrl"]["Condition"] == ("CreatesDashboard")


def _widgets(stack: Evaluated) -> list[dict[str, Any]]:
    body = stack.eval(stack.cfn["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    widgets = json.loads(body)["widgets"]
    assert isinstance(widgets, list)
    return widgets


def test_the_dashboard_shows_every_metric_panel_for_both_regions() -> None:
    primary = Evaluated(Stack("A", "us-east-1", {"FailoverRole": "PRIMARY", **PEER}))
    widgets = _widgets(primary)
    metric = [w for w in widgets if w["type"] == "metric"]
    own = [w for w in metric if w["properties"]["region"] == "us-east-1"]
    peer = [w for w in metric if w["properties"]["region"] == "us-west-2"]
    assert len(own) == len(peer) >= 5
    assert all(w["properties"]["title"].startswith("us-west-2: ") for w in peer)
    assert "rg-b" in json.dumps(peer)
    assert "rg-a" not in json.dumps(peer)
    alarms = [w for w in widgets if w["type"] == "alarm"]
    assert [a["properties"]["alarms"] for a in alarms][1] == [
        f"arn:aws:cloudwatch:us-west-2:123456789012:alarm:{PEER['PeerWriterAlarmName']}"
    ]
    texts = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    assert any("rg-a in us-east-1" in text for text in texts)
    assert any("rg-b in us-west-2" in text for text in texts)


def test_without_the_peer_wiring_the_dashboard_has_this_region_only() -> None:
    widgets = _widgets(Evaluated(Stack("A", "us-east-1", {"FailoverRole": "PRIMARY"})))
    assert {w["properties"].get("region", "us-east-1") for w in widgets} == {"us-east-1"}
    assert len([w for w in widgets if w["type"] == "metric"]) >= 5


# --- two Global Datastores protected in one account and region ----------------------------------------

#: Property names that carry a physical name unique in the account (and region).
NAMED = ("FunctionName", "AlarmName", "TopicName", "QueueName", "LogGroupName", "DashboardName", "AliasName", "Name")


#: Resources whose name-like properties refer to another resource instead of naming this one.
REFERENCES_BY_NAME = ("AWS::Lambda::Permission", "AWS::SNS::Subscription", "AWS::Lambda::EventSourceMapping")


def physical_names(stack: Evaluated) -> set[str]:
    """Every name this stack gives a resource (records as name + set identifier), resolved."""
    names: set[str] = set()
    for logical_id, resource in stack.cfn["Resources"].items():
        if not stack.exists(logical_id):
            continue
        props = stack.eval(resource.get("Properties", {}))
        kind = resource["Type"]
        if kind == "AWS::Route53::RecordSet":
            names.add(f"record {props['Name']} {props['SetIdentifier']} in {props['HostedZoneId']}")
            continue
        if kind == "AWS::Route53::HostedZone":
            names.add(f"private zone {props['Name']} in {[v['VPCId'] for v in props['VPCs']]}")
            continue
        for key in NAMED:
            if kind in REFERENCES_BY_NAME:
                break
            if isinstance(props.get(key), str):
                names.add(f"{kind} {key}={props[key]}")
        if kind == "AWS::Scheduler::Schedule":
            names.add(f"schedule {props['Name']}")
    return names


def _orders(stack_name: str, **overrides: str) -> Evaluated:
    stack = Evaluated(
        Stack("A", "us-east-1", {"FailoverRole": "PRIMARY", **overrides}),
        {"GlobalReplicationGroupId": "ldgnf-orders", "ReplicationGroupId": "orders-use1"},
    )
    stack.params["AWS::StackName"] = stack_name
    return stack


def test_two_deployments_in_one_account_and_region_share_no_name() -> None:
    """As docs/deploy.md says: another stack name, and the second record in the first one's zone."""
    sessions = Evaluated(
        Stack("A", "us-east-1", {"FailoverRole": "PRIMARY"}),
        {"GlobalReplicationGroupId": "ldgnf-sessions", "ReplicationGroupId": "sessions-use1"},
    )
    orders = _orders("orders-failover", HostedZoneId=ZONE, RecordName="orders.internal")
    first, second = physical_names(sessions), physical_names(orders)
    assert len(first) >= 15
    assert not first & second
    # and the checker would notice the collisions of a copy-pasted environment
    clash = physical_names(_orders("gds-failover"))
    assert {name for name in first & clash if "record" not in name and "zone" not in name}
    assert any(name.startswith("private zone internal") for name in first & clash)


def test_the_dashboard_lists_pauses_resumes_and_manual_promotions_in_both_regions() -> None:
    """Log widgets (Logs Insights, run when the dashboard is viewed) on each region's promote log group,
    where make pause / resume / promote write their lines and the promoter its paused decisions."""
    widgets = _widgets(Evaluated(Stack("A", "us-east-1", {"FailoverRole": "PRIMARY", **PEER})))
    logs = {w["properties"]["region"]: w["properties"]["query"] for w in widgets if w["type"] == "log"}
    assert set(logs) == {"us-east-1", "us-west-2"}
    assert logs["us-east-1"].startswith("SOURCE '/aws/lambda/gds-failover-promote' |")  # this stack's name
    peer_stack = PEER["PeerPromotionTopicArn"].split(":")[5].removesuffix("-promotion")
    assert logs["us-west-2"].startswith(f"SOURCE '/aws/lambda/{peer_stack}-promote' |")
    for query in logs.values():
        assert "ispresent(operator_action)" in query
        assert "decision_record.code = 'paused'" in query
        assert "decision_record.code = 'manual-promote'" in query
