"""template.yaml after the SAM transform: the wiring, the contracts with the code, the IAM scopes."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from gdfailover import signals
from tests.template.stack import (
    ROOT,
    asl_placeholders,
    asl_text,
    assert_valid_stack_parameters,
    example_substitutions,
    refs,
    resources_of_type,
    sam_template,
    substitute,
    template_substitution_keys,
    transformed,
    validate_asl,
)
from tools.cfn import condition_holds, metric_queries, parameter_defaults

#: Parameter sets that exercise every condition of the template.
VARIANTS: dict[str, dict[str, str]] = {
    "primary-defaults": {},
    "secondary-with-peer": {
        "FailoverRole": "SECONDARY",
        "HostedZoneId": "Z0123456789ABCDEFGHIJ",
        "PeerHealthCheckId": "11111111-2222-3333-4444-555555555555",
        "PeerWriterAlarmName": "gds-failover-writer-peer",
        "PeerPromotionTopicArn": "arn:aws:sns:us-west-2:123456789012:gds-failover-promotion",
    },
    "api-publisher-endpoints-breakglass": {
        "HealthMetricPublisher": "api",
        "CreateMonitoringEndpoint": "true",
        "CreateSecretsManagerEndpoint": "true",
        "RedisAuthSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:auth-AbCdEf",
        "BreakGlassDisassociate": "true",
        "OperatorTopic": "none",
    },
    "cluster-mode-enabled": {
        "ClusterMode": "enabled",
        "RedisPrimaryEndpoint": "clustercfg.my-group.abc123.use1.cache.amazonaws.com",
        "MonitoredNodeCount": "6",
    },
}

#: Set by the Lambda runtime, not by the template.
RUNTIME_VARIABLES = frozenset({"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME"})

#: Actions AWS does not allow to scope to a resource: Resource "*" is the only option. Each needs a reason.
UNSCOPABLE_ACTIONS: dict[str, str] = {
    "logs:CreateLogDelivery": "Step Functions log delivery (vended logs) has no resource-level permissions",
    "logs:GetLogDelivery": "Step Functions log delivery",
    "logs:UpdateLogDelivery": "Step Functions log delivery",
    "logs:DeleteLogDelivery": "Step Functions log delivery",
    "logs:ListLogDeliveries": "Step Functions log delivery",
    "logs:PutResourcePolicy": "Step Functions log delivery writes the log group's resource policy",
    "logs:DescribeResourcePolicies": "Step Functions log delivery",
    "logs:DescribeLogGroups": "read-only",
    "cloudwatch:PutMetricData": "no resource-level permissions; must carry a cloudwatch:namespace condition",
    "cloudwatch:GetMetricData": "read-only, no resource-level permissions",
    "elasticache:DescribeEvents": "read-only, no resource-level permissions",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return sam_template()


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def cfn(request: pytest.FixtureRequest) -> dict[str, Any]:
    return transformed(VARIANTS[request.param])


@pytest.fixture(scope="module")
def default_cfn() -> dict[str, Any]:
    return transformed()


def _props(cfn: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props = cfn["Resources"][logical_id]["Properties"]
    assert isinstance(props, dict)
    return props


def _statements(value: Any) -> list[dict[str, Any]]:
    """Every IAM statement inside a value, both branches of Fn::If included."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if "Effect" in value and "Action" in value:
            found.append(value)
        for inner in value.values():
            found += _statements(inner)
    elif isinstance(value, list):
        for item in value:
            found += _statements(item)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the transform --------------------------------------------------------------------------------


def test_every_variant_transforms_to_plain_cloudformation(cfn: dict[str, Any]) -> None:
    types = {resource["Type"] for resource in cfn["Resources"].values()}
    assert not {t for t in types if t.startswith("AWS::Serverless::")}
    assert {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::Scheduler::Schedule"} <= types


# --- schedule -> state machine -> probe function --------------------------------------------------


def test_schedule_starts_the_state_machine_every_minute(default_cfn: dict[str, Any]) -> None:
    schedules = resources_of_type(default_cfn, "AWS::Scheduler::Schedule")
    assert len(schedules) == 1
    props = next(iter(schedules.values()))["Properties"]
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["Target"]["Arn"] == {"Ref": "ProbeStateMachine"}
    role = refs(props["Target"]["RoleArn"]).pop()
    allowed = _statements(_props(default_cfn, role)["Policies"])
    assert any(
        "states:StartExecution" in _as_list(s["Action"]) and refs(s["Resource"]) == {"ProbeStateMachine"}
        for s in allowed
    )


def test_state_machine_invokes_the_probe_function(default_cfn: dict[str, Any]) -> None:
    machine = _props(default_cfn, "ProbeStateMachine")
    assert machine["StateMachineType"] == {"Ref": "StateMachineType"}
    assert machine["DefinitionSubstitutions"]["ProbeFunctionArn"] == {"Fn::GetAtt": ["ProbeFunction", "Arn"]}
    assert machine["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["ProbeStateMachineLogGroup", "Arn"]
    }
    role = refs(machine["RoleArn"]).pop()
    invoke = [s for s in _statements(_props(default_cfn, role)["Policies"]) if "lambda:InvokeFunction" in s["Action"]]
    assert invoke
    # the probe, and the promoter the wake-up invokes: nothing else
    assert set().union(*(refs(s["Resource"]) for s in invoke)) == {"ProbeFunction", "PromoteFunction"}
    assert machine["DefinitionSubstitutions"]["PromoteFunctionArn"] == {"Fn::GetAtt": ["PromoteFunction", "Arn"]}
    assert machine["DefinitionSubstitutions"]["HeartbeatAgeThresholdSeconds"] == {"Ref": "HeartbeatAgeThresholdSeconds"}
    defaults = sam_template()["Parameters"]
    assert defaults["StateMachineType"]["Default"] == "EXPRESS"


def test_definition_substitutions_and_asl_placeholders_match(template: dict[str, Any]) -> None:
    assert template_substitution_keys(template) == asl_placeholders(asl_text())


@pytest.mark.parametrize("cadence", ["30", "20", "15", "10"])
def test_cadence_mapping_gives_sixty_seconds_of_probes(template: dict[str, Any], cadence: str) -> None:
    assert cadence in template["Parameters"]["ProbeCadenceSeconds"]["AllowedValues"]
    probes = int(template["Mappings"]["Cadence"][cadence]["ProbesPerExecution"])
    assert probes * int(cadence) == 60
    definition = json.loads(substitute(asl_text(), example_substitutions(cadence, str(probes))))
    assert validate_asl(definition) == []


def test_asl_validator_catches_what_it_claims() -> None:
    definition = json.loads(substitute(asl_text(), example_substitutions()))
    probe = definition["States"]["Probe"]
    probe["Retry"][0]["ErrorEquals"].append("States.ALL")
    probe["Catch"] = []
    definition["States"]["Orphan"] = {"Type": "Pass", "End": True}
    problems = " | ".join(validate_asl(definition))
    assert "retries on ['States.ALL']" in problems
    assert "no Catch on States.ALL" in problems
    assert "Orphan: unreachable" in problems


def test_the_wake_up_is_asynchronous_and_carries_the_probe_result() -> None:
    definition = json.loads(substitute(asl_text(), example_substitutions()))
    wake = definition["States"]["WakePromoter"]
    assert wake["Parameters"]["InvocationType"] == "Event"
    assert wake["Parameters"]["FunctionName"].endswith(":function:gds-failover-promote")
    assert wake["Parameters"]["Payload"]["wakeup"] == "heartbeat-stale"
    assert wake["Parameters"]["Payload"]["probe.$"] == "$.last.result"
    assert wake["ResultPath"] is None
    assert definition["States"]["Init"]["Parameters"]["threshold.$"] == "States.StringToJson('55')"


def test_probe_payload_is_the_handler_contract() -> None:
    definition = json.loads(substitute(asl_text(), example_substitutions()))
    payload = definition["States"]["Probe"]["Parameters"]["Payload"]
    assert payload == {
        "source": "probe-state-machine",
        "execution.$": "$$.Execution.Name",
        "iteration.$": "$.loop.iteration",
    }


# --- writer alarm -> Route 53 health check -> failover record --------------------------------------


def test_writer_alarm_is_what_route53_can_read(default_cfn: dict[str, Any]) -> None:
    alarm = _props(default_cfn, "WriterAlarm")
    assert alarm["Namespace"] == signals.DEFAULT_NAMESPACE
    assert alarm["MetricName"] == signals.HEALTH_CHECK_STATUS
    # Maximum: one healthy probe in the minute (or the promoter's datapoint) makes the record healthy
    assert (alarm["Statistic"], alarm["Period"], alarm["Threshold"]) == ("Maximum", 60, 1)
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["TreatMissingData"] == "breaching"
    assert "DatapointsToAlarm" not in alarm, "Route 53 cannot use M-of-N alarms"
    assert "Metrics" not in alarm, "Route 53 cannot use metric math"
    assert "ExtendedStatistic" not in alarm, "Route 53 reads a plain statistic"


def test_writer_alarm_name_carries_every_setting_route53_copies(template: dict[str, Any]) -> None:
    alarm = template["Resources"]["WriterAlarm"]["Properties"]
    name = alarm["AlarmName"]["Fn::Sub"]
    for key in ("Statistic", "Period", "TreatMissingData"):
        assert str(alarm[key]) in name, f"{key} not in the alarm name"
    assert "lt1" in name
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    settings = {k: v for k, v in alarm.items() if k not in {"AlarmName", "AlarmDescription", "AlarmActions"}}
    parameters = set(template["Parameters"])
    for parameter in refs(settings) & parameters:
        if parameter == "ReplicationGroupId":  # in the dimensions; also in the name
            assert "${ReplicationGroupId}" in name
            continue
        assert f"${{{parameter}}}" in name, f"changing {parameter} would not force a Route 53 resync"


def test_health_check_reads_the_writer_alarm_and_the_record_uses_it(default_cfn: dict[str, Any]) -> None:
    check = _props(default_cfn, "WriterHealthCheck")["HealthCheckConfig"]
    assert check["Type"] == "CLOUDWATCH_METRIC"
    assert check["AlarmIdentifier"] == {"Name": {"Ref": "WriterAlarm"}, "Region": {"Ref": "AWS::Region"}}
    assert check["InsufficientDataHealthStatus"] == "Unhealthy"
    record = _props(default_cfn, "FailoverRecord")
    assert record["HealthCheckId"] == {"Ref": "WriterHealthCheck"}
    assert record["Type"] == "CNAME"
    assert record["Failover"] == {"Ref": "FailoverRole"}
    assert record["ResourceRecords"] == [{"Ref": "RedisPrimaryEndpoint"}]
    assert record["TTL"] == {"Ref": "RecordTtl"}
    parameters = sam_template()["Parameters"]
    assert parameters["RecordTtl"]["Default"] == 10
    assert parameters["FailoverRole"]["AllowedValues"] == ["PRIMARY", "SECONDARY"]
    assert record["HostedZoneId"] == {
        "Fn::If": ["CreateHostedZone", {"Ref": "PrivateHostedZone"}, {"Ref": "HostedZoneId"}]
    }
    zone = default_cfn["Resources"]["PrivateHostedZone"]
    assert zone["Condition"] == "CreateHostedZone"
    assert zone["Properties"]["VPCs"][0] == {"VPCId": {"Ref": "VpcId"}, "VPCRegion": {"Ref": "AWS::Region"}}


# --- trigger alarm -> topic -> subscription -> promote function ------------------------------------


def test_trigger_alarm_reaches_the_promoter_through_the_topic(default_cfn: dict[str, Any]) -> None:
    alarm = _props(default_cfn, "PromotionTriggerAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == (signals.DEFAULT_NAMESPACE, signals.HEARTBEAT_AGE)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert {"Ref": "PromotionTopic"} in alarm["AlarmActions"]
    subscriptions = [
        s["Properties"]
        for s in resources_of_type(default_cfn, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": "PromotionTopic"}
    ]
    assert subscriptions == [
        {
            "TopicArn": {"Ref": "PromotionTopic"},
            "Protocol": "lambda",
            "Endpoint": {"Fn::GetAtt": ["PromoteFunction", "Arn"]},
        }
    ]
    permissions = [
        p["Properties"]
        for p in resources_of_type(default_cfn, "AWS::Lambda::Permission").values()
        if p["Properties"].get("SourceArn") == {"Ref": "PromotionTopic"}
    ]
    assert len(permissions) == 1
    assert permissions[0]["FunctionName"] == {"Ref": "PromoteFunction"}
    assert permissions[0]["Principal"] == "sns.amazonaws.com"


def test_promoter_counts_exactly_the_trigger_alarm(template: dict[str, Any]) -> None:
    name = template["Resources"]["PromotionTriggerAlarm"]["Properties"]["AlarmName"]["Fn::Sub"]
    variables = template["Resources"]["PromoteFunction"]["Properties"]["Environment"]["Variables"]
    _, with_peer, alone = variables["TRIGGER_ALARM_NAMES"]["Fn::If"]
    assert alone == {"Fn::Sub": name}
    assert with_peer == {"Fn::Sub": f"{name},${{PeerWriterAlarmName}}"}


def test_peer_topic_subscription_is_cross_region(default_cfn: dict[str, Any]) -> None:
    sub = default_cfn["Resources"]["PeerTopicSubscription"]
    assert sub["Condition"] == "HasPeerTopic"
    assert sub["Properties"]["Endpoint"] == {"Fn::GetAtt": ["PromoteFunction", "Arn"]}
    assert sub["Properties"]["Region"] == {"Fn::Select": [3, {"Fn::Split": [":", {"Ref": "PeerPromotionTopicArn"}]}]}


def test_topics_use_a_customer_managed_key_cloudwatch_may_use(default_cfn: dict[str, Any]) -> None:
    for topic in ("PromotionTopic", "OperatorTopicResource"):
        assert _props(default_cfn, topic)["KmsMasterKeyId"] == {"Ref": "EncryptionKey"}
    assert default_cfn["Resources"]["EncryptionKey"]["Type"] == "AWS::KMS::Key"
    key_policy = _props(default_cfn, "EncryptionKey")["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in key_policy if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "aws:SourceArn" in cloudwatch[0]["Condition"]["ArnLike"]


def test_topic_policies_admit_only_cloudwatch_of_this_account(default_cfn: dict[str, Any]) -> None:
    for policy in resources_of_type(default_cfn, "AWS::SNS::TopicPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny":
                continue
            assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            assert statement["Action"] == "sns:Publish"
            assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


# --- placement, layer, ledger -----------------------------------------------------------------------


def test_probe_in_the_vpc_promoter_outside(default_cfn: dict[str, Any]) -> None:
    probe = _props(default_cfn, "ProbeFunction")
    assert probe["VpcConfig"] == {
        "SubnetIds": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    assert "VpcConfig" not in _props(default_cfn, "PromoteFunction")
    for function in ("ProbeFunction", "PromoteFunction"):
        props = _props(default_cfn, function)
        assert props["Runtime"] == "python3.13"
        assert props["Layers"] == [{"Ref": next(iter(resources_of_type(default_cfn, "AWS::Lambda::LayerVersion")))}]


def test_layer_is_built_by_sam_for_python313(template: dict[str, Any]) -> None:
    """layers/shared/Makefile builds it for python3.13 from any Python (tests/unit/test_layer_build.py)."""
    layer = template["Resources"]["DomainLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["ContentUri"] == "layers/shared/"
    assert (ROOT / "layers/shared/gdfailover/__init__.py").is_file()  # package at the top of ContentUri


def test_ledger_is_encrypted_recoverable_and_matches_the_code(default_cfn: dict[str, Any]) -> None:
    from gdfailover.ledger import PromotionLedger

    table = _props(default_cfn, "LedgerTable")
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    calls: list[dict[str, Any]] = []

    class Recorder:
        def put_item(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(kwargs)
            return {}

    from datetime import UTC, datetime, timedelta

    PromotionLedger(Recorder(), "t").acquire("gds", "holder", datetime.now(UTC), timedelta(minutes=1))
    (hash_key,) = [k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH"]
    assert hash_key in calls[0]["Item"]
    assert table["TimeToLiveSpecification"]["AttributeName"] in calls[0]["Item"]


# --- environment: every variable the code reads is set -----------------------------------------------


def _variables_read_by(path: Path, class_name: str | None = None) -> set[str]:
    """Names read through env_*(env, "NAME", ...) helpers or os.environ[...] / .get("NAME")."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scope: ast.AST = tree
    if class_name is not None:
        scope = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == class_name)
    names: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Subscript):
            if _is_environ(node.value) and isinstance(node.slice, ast.Constant):
                names.add(str(node.slice.value))
            continue
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        helper = isinstance(func, ast.Name) and func.id.startswith("env_") and len(node.args) >= 2
        if helper and isinstance(node.args[1], ast.Constant):
            names.add(str(node.args[1].value))
        environ_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
        if environ_get and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _declared(template: dict[str, Any], function: str) -> set[str]:
    globals_vars = template["Globals"]["Function"]["Environment"]["Variables"]
    own = template["Resources"][function]["Properties"]["Environment"]["Variables"]
    return set(globals_vars) | set(own)


CONFIG = ROOT / "layers/shared/gdfailover/config.py"
READERS = {
    "ProbeFunction": [(CONFIG, "ProbeSettings"), (ROOT / "functions/probe/app.py", None)],
    "PromoteFunction": [
        (CONFIG, "PromoteSettings"),
        (ROOT / "layers/shared/gdfailover/succession.py", "SuccessionSettings"),
        (ROOT / "functions/promote/app.py", None),
    ],
}


@pytest.mark.parametrize("function", sorted(READERS))
def test_every_variable_the_code_reads_is_set(template: dict[str, Any], function: str) -> None:
    read: set[str] = set()
    for path, class_name in READERS[function]:
        if not path.is_file():
            pytest.fail(f"{path.relative_to(ROOT)} is missing")
        if class_name is not None and f"class {class_name}" not in path.read_text(encoding="utf-8"):
            pytest.fail(f"{class_name} is not in {path.relative_to(ROOT)}")
        read |= _variables_read_by(path, class_name)
    assert read, "found no environment reads: the parser is broken"
    missing = read - RUNTIME_VARIABLES - _declared(template, function)
    assert not missing, f"{function} reads {sorted(missing)} but the template does not set them"


@pytest.mark.parametrize("function", sorted(READERS))
def test_no_variable_is_set_that_nothing_reads(template: dict[str, Any], function: str) -> None:
    read: set[str] = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}  # read by Powertools
    for path, class_name in READERS[function]:
        if path.is_file():
            read |= _variables_read_by(path, class_name)
    stale = _declared(template, function) - read
    assert not stale, f"{function} sets {sorted(stale)} but no code reads them (typo?)"


def test_powertools_identity_matches_the_alarm_dimensions(template: dict[str, Any]) -> None:
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == signals.DEFAULT_NAMESPACE
    service = variables["POWERTOOLS_SERVICE_NAME"]
    assert variables["REPLICATION_GROUP_ID"] == {"Ref": "ReplicationGroupId"}
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::CloudWatch::Alarm" or props.get("Namespace") != signals.DEFAULT_NAMESPACE:
            continue
        assert props["MetricName"] in {
            signals.HEALTH_CHECK_STATUS,
            signals.REACHABLE,
            signals.PROBE_LATENCY,
            signals.HEARTBEAT_AGE,
        }, name
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert dims == {
            signals.DIM_SERVICE: service,
            signals.DIM_REPLICATION_GROUP: {"Ref": "ReplicationGroupId"},
        }


def test_dashboard_shows_probe_health_latency_heartbeat_lag_and_decisions(
    default_cfn: dict[str, Any],
) -> None:
    body = _props(default_cfn, "Dashboard")["DashboardBody"]["Fn::Sub"][0]
    for metric in (
        signals.HEALTH_CHECK_STATUS,
        signals.PROBE_LATENCY,
        signals.HEARTBEAT_AGE,
        signals.REPLICATION_LINK_UP,
        signals.WRITER_WITNESS,
        signals.PROMOTION_DECISION,
        "GlobalDatastoreReplicationLag",
    ):
        assert metric in body
    body = body.replace("${PeerWidgets}", "")  # the peer panels: tests/template/test_deployments.py
    rendered = re.sub(r"\$\{[A-Za-z0-9_:.]+\}", "0", body)  # what Sub leaves behind must be JSON
    assert len(json.loads(rendered)["widgets"]) >= 6


@pytest.mark.parametrize(
    ("alarm", "metric", "threshold"),
    [
        ("ReplicationLagAlarm", "GlobalDatastoreReplicationLag", 5),
        ("EngineCpuAlarm", "EngineCPUUtilization", 80),
        ("MemoryAlarm", "DatabaseMemoryUsagePercentage", 80),
        ("ConnectionsAlarm", "CurrConnections", {"Ref": "ConnectionsAlarmThreshold"}),
        ("EvictionsAlarm", "Evictions", {"Ref": "EvictionsAlarmThreshold"}),
    ],
)
def test_monitoring_alarms(template: dict[str, Any], alarm: str, metric: str, threshold: Any) -> None:
    props = template["Resources"][alarm]["Properties"]
    assert props["Threshold"] == threshold
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    defaults = parameter_defaults(template)
    # ElastiCache node ids: <group>-00N (cluster mode disabled), <group>-000S-00N (enabled; the first node of shard S)
    names = {"disabled": "${{ReplicationGroupId}}-00{n}", "enabled": "${{ReplicationGroupId}}-000{n}-001"}
    for mode, name in names.items():
        for count in range(1, 7):
            parameters = defaults | {"MonitoredNodeCount": str(count), "ClusterMode": mode}
            queries = metric_queries(template, props, parameters)
            stats = [m["MetricStat"]["Metric"] for m in queries if "MetricStat" in m]
            assert {s["MetricName"] for s in stats} == {metric}
            # one metric per node that exists, and no more: CloudWatch bills alarms per metric
            values = [_resolve_if(template, s["Dimensions"][0]["Value"], parameters) for s in stats]
            assert values == [{"Fn::Sub": name.format(n=n)} for n in range(1, count + 1)]


def _resolve_if(template: dict[str, Any], value: Any, parameters: dict[str, str]) -> Any:
    if isinstance(value, dict) and "Fn::If" in value:
        condition, then, otherwise = value["Fn::If"]
        return then if condition_holds(template, condition, parameters) else otherwise
    return value


# --- IAM ---------------------------------------------------------------------------------------------


def test_no_wildcard_resource_on_mutating_actions(cfn: dict[str, Any]) -> None:
    for name, role in resources_of_type(cfn, "AWS::IAM::Role").items():
        for statement in _statements(role["Properties"].get("Policies", [])):
            actions = _as_list(statement["Action"])
            assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{name}: wildcard action"
            if "*" not in _as_list(statement["Resource"]):
                continue
            for action in actions:
                assert action in UNSCOPABLE_ACTIONS, f"{name}: {action} on Resource '*'"
                if action == "cloudwatch:PutMetricData":
                    assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Custom/Redis"


def test_promoter_mutations_are_scoped_to_this_global_datastore(template: dict[str, Any]) -> None:
    statements = _statements(template["Resources"]["PromoteFunction"]["Properties"]["Policies"])
    grg = "arn:${AWS::Partition}:elasticache::${AWS::AccountId}:globalreplicationgroup:${GlobalReplicationGroupId}"
    by_action = {a: s for s in statements for a in _as_list(s["Action"])}
    for action in (
        "elasticache:FailoverGlobalReplicationGroup",
        "elasticache:DisassociateGlobalReplicationGroup",
    ):
        # these actions take only the globalreplicationgroup resource type (Service Authorization Reference):
        # a replicationgroup ARN beside it granted nothing and read like a limit (issue 22)
        assert _as_list(by_action[action]["Resource"]) == [{"Fn::Sub": grg}], action
    assert refs(by_action["dynamodb:PutItem"]["Resource"]) == {"LedgerTable"}
    assert refs(by_action["sns:Publish"]["Resource"]) == {"OperatorTopicResource"}


def test_break_glass_permission_exists_only_when_enabled() -> None:
    def has_disassociate(cfn: dict[str, Any]) -> Any:
        policies = _props(cfn, "PromoteFunctionRole")["Policies"]
        return [p for p in policies if "DisassociateGlobalReplicationGroup" in json.dumps(p)]

    (guarded,) = has_disassociate(transformed())
    assert guarded["Fn::If"][0] == "AllowBreakGlass"
    assert sam_template()["Parameters"]["BreakGlassDisassociate"]["Default"] == "false"


# --- parameters: validated, documented, configured ---------------------------------------------------


def test_every_parameter_is_validated(template: dict[str, Any]) -> None:
    for name, spec in template["Parameters"].items():
        validated = {"AllowedValues", "AllowedPattern", "MinValue"} & set(spec) or spec["Type"].startswith(
            ("AWS::", "List<AWS::")
        )
        assert validated, f"{name} accepts anything"


def _documented_parameters() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in (ROOT / "docs/parameters.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`([A-Za-z0-9]+)`\s*\|(.*)\|\s*$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} documented twice"
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def test_every_parameter_is_documented_once_with_its_default(template: dict[str, Any]) -> None:
    rows = _documented_parameters()
    assert set(rows) == set(template["Parameters"])
    for name, spec in template["Parameters"].items():
        default = rows[name][0].strip("`")
        if "Default" not in spec:
            assert default in {"(required)", "required"}, name
        elif spec["Default"] == "":
            assert default in {"(empty)", '""'}, name
        else:
            assert default == str(spec["Default"]), name


def samconfig_with_examples() -> str:
    """samconfig.toml with its commented EDIT block taken in, as a user starts editing it."""
    text = (ROOT / "samconfig.toml").read_text(encoding="utf-8")
    return re.sub(r'(?m)^(\s*)# ("[A-Za-z]+=[^"]*",)', r"\1\2", text)


def _samconfig_overrides(env: str) -> dict[str, str]:
    config = tomllib.loads(samconfig_with_examples())
    items = config[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in items)


@pytest.mark.parametrize(("env", "role"), [("primary", "PRIMARY"), ("secondary", "SECONDARY")])
def test_samconfig_environments_are_valid_stacks(template: dict[str, Any], env: str, role: str) -> None:
    """With the EDIT block's examples in place (preflight refuses them: tests/unit/test_preflight.py)."""
    config = tomllib.loads(samconfig_with_examples())
    deploy = config[env]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["region"]
    overrides = _samconfig_overrides(env)
    assert overrides["FailoverRole"] == role
    assert_valid_stack_parameters(template["Parameters"], overrides)
    transformed(overrides)  # and the transform accepts them


def test_checkov_skips_carry_reasons(template: dict[str, Any]) -> None:
    skips = [
        skip
        for resource in template["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"])
        assert len(skip["comment"]) > 40, skip["id"]


def test_every_alarm_is_named_after_the_stack(template: dict[str, Any]) -> None:
    """make verify lists the stack's alarms by the prefix "<stack name>-" (tools/verify.py)."""
    alarms = {name: r for name, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms
    for name, resource in alarms.items():
        alarm_name = resource["Properties"]["AlarmName"]
        text = alarm_name["Fn::Sub"] if isinstance(alarm_name, dict) else alarm_name
        assert isinstance(text, str), name
        assert text.startswith("${AWS::StackName}-"), name


def test_the_outputs_the_operator_tools_read_exist(template: dict[str, Any]) -> None:
    """tools/pairing.py (make deploy) and tools/verify.py read these outputs, never guess names."""
    needed = {
        "HealthCheckId",
        "WriterAlarmName",
        "PromotionTopicArn",
        "HostedZoneId",
        "PromotionTriggerAlarmName",
        "ProbeStateMachineArn",
        "PromoteFunctionName",
        "RecordName",
    }
    assert needed <= set(template["Outputs"])


def test_cluster_mode_reaches_the_probe(template: dict[str, Any]) -> None:
    """ClusterMode=enabled makes the probe check every shard (gdfailover.cluster_probe), disabled keeps one."""
    from gdfailover.config import ProbeSettings

    variable = template["Resources"]["ProbeFunction"]["Properties"]["Environment"]["Variables"]["REDIS_CLUSTER_MODE"]
    condition, then, otherwise = variable["Fn::If"]
    assert (condition, then, otherwise) == ("IsClusterMode", "true", "false")
    for mode, expected in (("enabled", True), ("disabled", False)):
        holds = condition_holds(template, condition, parameter_defaults(template) | {"ClusterMode": mode})
        value = then if holds else otherwise
        assert ProbeSettings.from_env({"REDIS_HOST": "h", "REDIS_CLUSTER_MODE": value}).cluster_mode is expected


def test_the_promoter_reads_the_witness_through_this_stacks_probe_only(template: dict[str, Any]) -> None:
    """The promoter may invoke exactly this stack's probe function (the witness reading), nothing else."""
    promote = template["Resources"]["PromoteFunction"]["Properties"]
    probe = template["Resources"]["ProbeFunction"]["Properties"]
    assert promote["Environment"]["Variables"]["WITNESS_FUNCTION_NAME"] == probe["FunctionName"]
    statements = [
        statement
        for policy in promote["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        if isinstance(statement, dict) and statement.get("Action") == "lambda:InvokeFunction"
    ]
    assert len(statements) == 1
    resource = statements[0]["Resource"]["Fn::Sub"]
    assert resource.endswith(":function:${AWS::StackName}-probe")
    assert probe["Environment"]["Variables"]["WITNESS_RECORD_NAME"] == {"Ref": "RecordName"}


def test_the_probe_and_its_witness_reading_fit_the_lambda_timeout(template: dict[str, Any]) -> None:
    """The Redis probe's budget at its largest, then one bounded witness query: the function never times out."""
    from gdfailover.witness import RESOLVE_TIMEOUT_SECONDS

    budget = float(template["Parameters"]["ProbeTimeoutSeconds"]["MaxValue"])
    assert budget + RESOLVE_TIMEOUT_SECONDS < float(template["Resources"]["ProbeFunction"]["Properties"]["Timeout"])
