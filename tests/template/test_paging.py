"""What pages the operators (the operator topic), asserted from template.yaml and the promoter's code.

A page means a human has something to do. The writer and trigger alarms fire on every in-region
(Multi-AZ) failover or stall past the threshold, which needs no human: they reach the promoter only.
The promoter pages when it promotes or refuses (NOTIFIED_OUTCOMES). The rest are the product's own
failures and the replication group's capacity. docs/parameters.md#what-pages lists the same set
(tests/unit/test_docs.py reads it back).
"""

from __future__ import annotations

from typing import Any

import pytest

from gdfailover.decision import Outcome
from gdfailover.promoter import NOTIFIED_OUTCOMES
from tests.template.stack import refs, resources_of_type, sam_template, transformed

#: Every alarm that notifies the operator topic, and what the human does about it. Nothing else may.
PAGING_ALARMS: dict[str, str] = {
    "ProbeFunctionFailingAlarm": "the probe Lambda errors or is throttled: no health data, Route 53 sees it down",
    "ProbeSilentAlarm": "no probe ran (schedule, state machine or Lambda broken): no health data",
    "PromoteFunctionFailingAlarm": "the promoter Lambda errors or is throttled: a decision may be missing",
    "PromoteFailedAlarm": "the promoter failed every retry (its dead-letter queue): a decision is missing",
    "ReplicationLagAlarm": "the secondary's replication lag: the data a failover would lose grows",
    "EngineCpuAlarm": "capacity: a node's engine CPU",
    "MemoryAlarm": "capacity: a node's memory",
    "ConnectionsAlarm": "capacity: a node's connections",
    "EvictionsAlarm": "capacity: a node evicts keys",
}

#: The product's own failures among them: each of its Lambda functions, errors and throttles.
PRODUCT_FAILURE_ALARMS: dict[str, str] = {
    "ProbeFunctionFailingAlarm": "ProbeFunction",
    "PromoteFunctionFailingAlarm": "PromoteFunction",
}

ACTION_KEYS = ("AlarmActions", "OKActions", "InsufficientDataActions")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return sam_template()


def _notifies_operators(alarm: dict[str, Any]) -> bool:
    return any("OperatorTopicResource" in refs(alarm["Properties"].get(key, [])) for key in ACTION_KEYS)


def test_exactly_these_alarms_page(template: dict[str, Any]) -> None:
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert {name for name, alarm in alarms.items() if _notifies_operators(alarm)} == set(PAGING_ALARMS)


def test_pages_are_alarm_actions_only(template: dict[str, Any]) -> None:
    """A page when something breaks; its recovery (OK) or a lack of data alone pages nobody."""
    for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        for key in ("OKActions", "InsufficientDataActions"):
            assert "OperatorTopicResource" not in refs(alarm["Properties"].get(key, [])), (name, key)


@pytest.mark.parametrize("alarm", ["PromotionTriggerAlarm", "WriterAlarm"])
def test_the_failover_alarms_reach_the_promoter_only(template: dict[str, Any], alarm: str) -> None:
    """They fire on every in-region failover or stall past the threshold: the promoter decides, nobody is paged."""
    assert template["Resources"][alarm]["Properties"]["AlarmActions"] == [{"Ref": "PromotionTopic"}]


def test_the_promoter_pages_on_promote_and_refuse_only() -> None:
    assert {Outcome.PROMOTE, Outcome.REFUSE} == NOTIFIED_OUTCOMES


def test_only_the_promoter_cloudwatch_and_a_pause_expiry_publish_to_the_operator_topic(
    template: dict[str, Any],
) -> None:
    """The promoter (promote, refuse, a first paused hold), alarms, and make pause's one-time expiry schedule."""
    cfn = transformed()
    statements = cfn["Resources"]["OperatorTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allowed] == [{"Service": "cloudwatch.amazonaws.com"}]
    publishers = {
        name
        for name, role in resources_of_type(cfn, "AWS::IAM::Role").items()
        if "OperatorTopicResource" in refs(role["Properties"].get("Policies", []))
    }
    assert publishers == {"PromoteFunctionRole", "PauseExpiryRole"}
    trust = cfn["Resources"]["PauseExpiryRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]


@pytest.mark.parametrize(("alarm", "function"), sorted(PRODUCT_FAILURE_ALARMS.items()))
def test_each_function_pages_on_its_errors_and_throttles(template: dict[str, Any], alarm: str, function: str) -> None:
    props = template["Resources"][alarm]["Properties"]
    queries = props["Metrics"]
    stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
    assert {(s["Metric"]["Namespace"], s["Metric"]["MetricName"]) for s in stats.values()} == {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    }
    for stat in stats.values():
        assert stat["Metric"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
        assert (stat["Stat"], stat["Period"]) == ("Sum", 60)
    (returned,) = [q for q in queries if q.get("ReturnData")]
    assert returned["Expression"] == " + ".join(sorted(stats))
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["TreatMissingData"] == "notBreaching"  # no invocation is not a failure


def test_no_probe_data_pages(template: dict[str, Any]) -> None:
    """No probe ran at all (whatever broke): missing data is the failure."""
    props = template["Resources"]["ProbeSilentAlarm"]["Properties"]
    assert (props["MetricName"], props["Statistic"]) == ("ProbeLatency", "SampleCount")
    assert (props["ComparisonOperator"], props["Threshold"], props["TreatMissingData"]) == (
        "LessThanThreshold",
        1,
        "breaching",
    )


def test_the_dashboard_shows_every_paging_alarm(template: dict[str, Any]) -> None:
    variables = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][1]
    shown = {v["Fn::GetAtt"][0] for v in variables.values() if isinstance(v, dict) and "Fn::GetAtt" in v}
    assert set(PAGING_ALARMS) <= shown
