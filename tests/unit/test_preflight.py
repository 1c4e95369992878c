"""preflight's offline part: samconfig.toml against template.yaml, no AWS call (a call would fail the test)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws_pair import SAMCONFIG, write_samconfig
from tests.template.test_template import samconfig_with_examples
from tools import preflight
from tools.cfn import ROOT, load_template
from tools.checks import Level


def no_aws(service: str, region: str) -> Any:
    raise AssertionError(f"offline: no {service} call expected in {region}")


def run(samconfig: Path, *argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = preflight.main([*argv, "--offline"], clients=no_aws, samconfig=samconfig)
    lines = out.getvalue().splitlines()
    return code, lines


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_a_complete_pair_passes_offline(tmp_path: Path) -> None:
    code, lines = run(write_samconfig(tmp_path), "--config-env", "secondary")
    assert code == 0, lines
    assert failures(lines) == []
    assert "ok    pair: peer primary (us-east-1, PRIMARY); wired at deploy" in lines
    assert lines[-1].startswith("preflight secondary: ready (")


def test_the_shipped_samconfig_is_refused_for_its_missing_values() -> None:
    code, lines = run(ROOT / "samconfig.toml", "--config-env", "primary")
    assert code == 1
    assert any(
        "not set in [primary.deploy.parameters] parameter_overrides: GlobalReplicationGroupId, ReplicationGroupId"
        in line
        for line in failures(lines)
    )


@pytest.mark.parametrize("env", ["primary", "secondary"])
def test_every_example_value_of_the_edit_block_is_refused_as_a_placeholder(tmp_path: Path, env: str) -> None:
    samconfig = write_samconfig(tmp_path, samconfig_with_examples())
    code, lines = run(samconfig, "--config-env", env)
    assert code == 1
    (placeholders,) = [line for line in failures(lines) if line.startswith("FAIL  placeholders:")]
    for name in (
        "GlobalReplicationGroupId",
        "ReplicationGroupId",
        "RedisPrimaryEndpoint",
        "RedisAuthSecretArn",
        "VpcId",
        "SubnetIds",
        "SecurityGroupIds",
        "OperatorEmail",
    ):
        assert f"{name}=" in placeholders, name
    assert re.search(r"; VpcId=vpc-(0123456789abcdef0|0fedcba9876543210) \(an example id\);", placeholders)
    assert "@example.com (an example.com address)" in placeholders


def with_overrides(env: str, *items: str, text: str = SAMCONFIG) -> str:
    """SAMCONFIG with ``items`` added to ``env``'s parameter_overrides."""
    role = "PRIMARY" if env == "primary" else "SECONDARY"
    anchor = f'"FailoverRole={role}",'
    assert anchor in text
    return text.replace(anchor, anchor + "".join(f'\n    "{item}",' for item in items))


def only_primary() -> str:
    return SAMCONFIG[: SAMCONFIG.index("[secondary.deploy.parameters]")]


@pytest.mark.parametrize(
    ("rule", "env", "items", "text"),
    [
        ("SecretsEndpointNeedsAuth", "primary", ["CreateSecretsManagerEndpoint=true"], SAMCONFIG),
        ("MonitoringEndpointNeedsApi", "primary", ["CreateMonitoringEndpoint=true"], SAMCONFIG),
        ("PeerVpcNeedsRegion", "primary", ["PeerVpcId=vpc-0c1d2e3f4a5b60718"], SAMCONFIG),
        ("PeerAlarmNeedsTopic", "primary", ["PeerWriterAlarmName=gds-failover-writer-x"], None),
        ("OperatorEmailNeedsTopic", "primary", ["OperatorTopic=none", "OperatorEmail=oncall@corp.test"], SAMCONFIG),
        ("TriggerPeriodHoldsAProbe", "primary", ["TriggerAlarmPeriodSeconds=10"], SAMCONFIG),
        ("SecondaryDnsRankNeedsSecondaryRole", "primary", ["SecondaryDnsRank=first"], SAMCONFIG),
        (
            "SecondPeerVpcNeedsRegion",
            "primary",
            ["SecondPeerVpcId=vpc-0c1d2e3f4a5b60719"],
            SAMCONFIG,
        ),
        (
            "SlowCadenceNeedsLongTriggerPeriod",
            "primary",
            ["ProbeCadenceSeconds=30", "TriggerAlarmPeriodSeconds=20"],
            SAMCONFIG,
        ),
    ],
)
def test_each_template_rule_is_mirrored(
    tmp_path: Path, rule: str, env: str, items: list[str], text: str | None
) -> None:
    samconfig = write_samconfig(tmp_path, with_overrides(env, *items, text=text or only_primary()))
    code, lines = run(samconfig, "--config-env", env)
    assert code == 1, lines
    rules = [line for line in failures(lines) if line.startswith("FAIL  rules:")]
    assert len(rules) == 1, lines
    spec = load_template()["Rules"][rule]
    assert rules[0].startswith(f"FAIL  rules: {rule}: ")
    assert any(assertion["AssertDescription"] in rules[0] for assertion in spec["Assertions"])


def test_every_template_rule_has_a_case_above() -> None:
    covered = {
        "SecretsEndpointNeedsAuth",
        "MonitoringEndpointNeedsApi",
        "PeerVpcNeedsRegion",
        "PeerAlarmNeedsTopic",
        "OperatorEmailNeedsTopic",
        "TriggerPeriodHoldsAProbe",
        "SecondaryDnsRankNeedsSecondaryRole",
        "SecondPeerVpcNeedsRegion",
        "SlowCadenceNeedsLongTriggerPeriod",
    }
    assert set(load_template()["Rules"]) == covered


@pytest.mark.parametrize(
    ("env", "items", "text", "expected"),
    [
        ("secondary", [], "only-secondary", "without a HostedZoneId and no PRIMARY environment"),
        (
            "secondary",
            ["PeerVpcId=vpc-0c1d2e3f4a5b60718", "PeerVpcRegion=us-east-1"],
            None,
            "PeerVpcId is set on the SECONDARY",
        ),
        ("primary", ["RecordName=redis.corp"], None, "RecordName redis.corp is not inside HostedZoneName internal"),
        (
            "primary",
            ["RedisAuthSecretArn=arn:aws:secretsmanager:eu-west-1:210987654321:secret:auth-Xy12Zq"],
            None,
            "the secret is in eu-west-1, the stack in us-east-1",
        ),
        (
            "primary",
            [],
            SAMCONFIG.replace("vpc-0a1b2c3d4e5f60718", "vpc-0123456789abcdef0"),
            "VpcId=vpc-0123456789abcdef0 (an example id)",
        ),
        (
            "primary",
            ["RedisAuthSecretArn=arn:aws:secretsmanager:us-east-1:210987654321:secret:orders-auth"],
            None,
            "is a partial secret ARN (no -XXXXXX suffix)",
        ),
        ("primary", ["ProbeCadenceSeconds=7"], None, "ProbeCadenceSeconds=7 is not one of 30, 20, 15, 10"),
        ("primary", ["RecordTtl=0"], None, "RecordTtl=0 is outside 1..300"),
        (
            "primary",
            [],
            SAMCONFIG.replace("subnet-0a1b2c3d4e5f60719", "subnet-nope"),
            "subnet-nope is not a List<AWS::EC2::Subnet::Id>",
        ),
        ("primary", ["ProbeIntervalSeconds=30"], None, "template.yaml declares no parameter ProbeIntervalSeconds"),
    ],
)
def test_inconsistent_or_invalid_values_are_refused(
    tmp_path: Path, env: str, items: list[str], text: str | None, expected: str
) -> None:
    base = text or SAMCONFIG
    if text == "only-secondary":
        base = "version = 0.1\n" + SAMCONFIG[SAMCONFIG.index("[secondary.deploy.parameters]") :]
    code, lines = run(write_samconfig(tmp_path, with_overrides(env, *items, text=base)), "--config-env", env)
    assert code == 1, lines
    assert any(expected in line for line in failures(lines)), lines


def test_a_pair_with_two_primaries_is_refused(tmp_path: Path) -> None:
    text = SAMCONFIG.replace('"FailoverRole=SECONDARY"', '"FailoverRole=PRIMARY"')
    code, lines = run(write_samconfig(tmp_path, text), "--config-env", "secondary")
    assert code == 1
    assert "FAIL  pair: secondary and primary are PRIMARY and PRIMARY: exactly one is PRIMARY" in lines


def test_api_publisher_without_endpoint_is_a_warning_offline(tmp_path: Path) -> None:
    code, lines = run(
        write_samconfig(tmp_path, with_overrides("primary", "HealthMetricPublisher=api")), "--config-env", "primary"
    )
    assert code == 0
    assert any(line.startswith("warn  endpoints: the probe needs the monitoring API") for line in lines)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--config-env", "nope"], "has no environment 'nope'"), ([], "required")],
)
def test_usage_errors_exit_2(
    tmp_path: Path, argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = preflight.main(argv, clients=no_aws, samconfig=write_samconfig(tmp_path))
    assert code == 2
    captured = capsys.readouterr()
    assert expected in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err


def test_rule_evaluator_refuses_functions_it_does_not_know() -> None:
    with pytest.raises(preflight.RuleError, match="unsupported function Fn::Sub"):
        preflight.evaluate({"Fn::Sub": "x"}, {})
    assert (
        preflight.evaluate(
            {"Fn::And": [{"Fn::Equals": [{"Ref": "A"}, "1"]}, {"Fn::Not": [{"Fn::Equals": ["", ""]}]}]}, {"A": "1"}
        )
        is False
    )
    assert [
        f.level for f in preflight.rule_checks({"Rules": {"R": {"Assertions": [{"Assert": {"Fn::Sub": "x"}}]}}}, {})
    ] == [Level.ERROR]


@pytest.mark.parametrize(
    "text",
    [
        "version = 0.1\nprimary = 5\n",
        "version = 0.1\n[primary]\ndeploy = 5\n",
        'version = 0.1\n[primary.deploy.parameters]\nregion = "us-east-1"\nparameter_overrides = 5\n',
        'version = 0.1\n[primary.deploy.parameters]\nregion = "us-east-1"\nparameter_overrides = ["NoEquals"]\n',
        "not toml [",
    ],
)
def test_malformed_samconfig_is_one_line_exit_2(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = preflight.main(
        ["--config-env", "primary", "--offline"], clients=no_aws, samconfig=write_samconfig(tmp_path, text)
    )
    assert code == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("error samconfig: ")
    assert len(out) == 2


# --- the datastore's own stack (examples/datastore) after a failover -------------------------------------


def _stubbed_cloudformation(role: str | None, missing: bool = False) -> tuple[Any, Any]:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    if missing:
        stubber.add_client_error(
            "describe_stack_resources",
            service_error_code="ValidationError",
            service_message="Stack for orders-use1 does not exist",
            expected_params={"PhysicalResourceId": "orders-use1"},
        )
    else:
        stamp = datetime(2026, 1, 1, tzinfo=UTC)
        stubber.add_response(
            "describe_stack_resources",
            {
                "StackResources": [
                    {
                        "StackName": "orders-datastore",
                        "LogicalResourceId": "PrimaryReplicationGroup",
                        "PhysicalResourceId": "orders-use1",
                        "ResourceType": "AWS::ElastiCache::ReplicationGroup",
                        "Timestamp": stamp,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                ]
            },
            {"PhysicalResourceId": "orders-use1"},
        )
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "orders-datastore",
                        "CreationTime": stamp,
                        "StackStatus": "UPDATE_COMPLETE",
                        "Parameters": [{"ParameterKey": "Role", "ParameterValue": role or ""}],
                    }
                ]
            },
            {"StackName": "orders-datastore"},
        )
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize(
    ("declared", "actual", "warned"),
    [("PRIMARY", "SECONDARY", True), ("PRIMARY", "PRIMARY", False), ("SECONDARY", "PRIMARY", True)],
)
def test_preflight_warns_when_the_datastore_stack_declares_the_other_role(
    declared: str, actual: str, warned: bool
) -> None:
    from tools.preflight import datastore_stack_findings

    client, stubber = _stubbed_cloudformation(declared)
    findings = datastore_stack_findings(client, "orders-use1", actual)
    stubber.assert_no_pending_responses()
    assert bool(findings) is warned
    if warned:
        (finding,) = findings
        assert finding.level == Level.WARN
        assert f"orders-datastore declares Role={declared} for orders-use1, which is {actual} today" in finding.line()
        assert "make switchover" in finding.line()


def test_a_replication_group_no_stack_manages_is_not_a_finding() -> None:
    from tools.preflight import datastore_stack_findings

    client, _ = _stubbed_cloudformation(None, missing=True)
    assert datastore_stack_findings(client, "orders-use1", "PRIMARY") == []


def _cluster_group(shards: int, node_type: str = "cache.r7g.large", engine: str = "redis") -> dict[str, object]:
    """A DescribeReplicationGroups entry of a cluster-mode-enabled group (the API reference's shape)."""
    return {
        "ClusterEnabled": True,
        "CacheNodeType": node_type,
        "Engine": engine,
        "NodeGroups": [{"NodeGroupId": f"{n:04d}", "Slots": "0-5460"} for n in range(1, shards + 1)],
        "ConfigurationEndpoint": {"Address": "clustercfg.g.abc.use1.cache.amazonaws.com", "Port": 6379},
    }


def test_members_must_match_shards_node_type_engine_and_mode() -> None:
    from tools.preflight import member_mismatches

    datastore = {"CacheNodeType": "cache.r7g.large", "Engine": "redis", "ClusterEnabled": True}
    assert member_mismatches({"a": _cluster_group(3), "b": _cluster_group(3)}, datastore) == []
    problems = member_mismatches({"a": _cluster_group(3), "b": _cluster_group(4, "cache.r6g.large")}, datastore)
    assert "shards differs: a 3, b 4" in problems
    assert "node type differs: a cache.r7g.large, b cache.r6g.large" in problems
    assert "b node type is cache.r6g.large, the Global Datastore's is cache.r7g.large" in problems
    disabled = {"ClusterEnabled": False, "CacheNodeType": "cache.r7g.large", "NodeGroups": [{}]}
    assert "a cluster mode is enabled, the Global Datastore's is disabled" in member_mismatches(
        {"a": _cluster_group(1), "b": disabled}, {"ClusterEnabled": False}
    )


@pytest.mark.parametrize(
    ("value", "partial"),
    [
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-auth-AbCdEf", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/redis/auth-a1B2c3", False),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:auth", True),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/redis/auth", True),
        ("", False),
    ],
)
def test_a_partial_secret_arn_is_refused_offline_and_by_the_template(value: str, partial: bool) -> None:
    assert (preflight.partial_secret_arn(value) is not None) is partial
    pattern = load_template()["Parameters"]["RedisAuthSecretArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is None) is partial


def test_a_secret_name_that_looks_complete_is_checked_online() -> None:
    """A name ending in "-" and 6 characters passes offline; DescribeSecret returns the full ARN."""
    import boto3
    from botocore.stub import Stubber

    partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-auth"
    full = f"{partial}-AbCdEf"
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_response("describe_secret", {"ARN": full, "Name": "orders-auth"}, {"SecretId": partial})
        stubber.add_response("describe_secret", {"ARN": full, "Name": "orders-auth"}, {"SecretId": full})
        (refused,) = preflight._secret({"RedisAuthSecretArn": partial}, client)
        (accepted,) = preflight._secret({"RedisAuthSecretArn": full}, client)
    assert refused.level == Level.FAIL
    assert refused.message == f"RedisAuthSecretArn={partial} is a partial ARN: use the full ARN {full}"
    assert accepted.level == Level.OK


def test_a_boundary_the_deployer_policy_does_not_name_is_a_warning(tmp_path: Path) -> None:
    other = "PermissionsBoundaryArn=arn:aws:iam::210987654321:policy/team-boundary"
    code, lines = run(write_samconfig(tmp_path, with_overrides("primary", other)), "--config-env", "primary")
    assert code == 0, lines
    assert any(line.startswith("warn  boundary: PermissionsBoundaryArn names team-boundary") for line in lines)
    ours = "PermissionsBoundaryArn=arn:aws:iam::210987654321:policy/gds-failover-boundary"
    code, lines = run(write_samconfig(tmp_path, with_overrides("primary", ours)), "--config-env", "primary")
    assert code == 0, lines
    assert not [line for line in lines if "boundary" in line]
