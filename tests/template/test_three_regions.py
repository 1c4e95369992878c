"""Three regions in template.yaml: the DNS record shape Route 53 gets from three stacks, and what it answers.

Each stack is the real template after the SAM transform, with its conditions and intrinsic functions
evaluated for that stack's parameters (a small evaluator below), so the test sees the records each
region's stack would create. The union of the three stacks' records is then resolved with Route 53's
documented failover semantics (a model, cited in :func:`answer`) for every combination of healthy writers.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import pytest

from gdfailover.succession import parse_peers
from gdfailover.witness import WITNESS_LABEL, WITNESS_TTL_SECONDS, witness_name
from tests.template.stack import REQUIRED_PARAMETERS, assert_valid_stack_parameters, sam_template, transformed

NO_VALUE = object()
ZONE = "Z0123456789ABCDEFGHIJ"
SECONDARIES = "secondaries.redis.internal"


@dataclass(frozen=True)
class Stack:
    name: str  # A, B or C
    region: str
    overrides: dict[str, str]


A = Stack(
    "A",
    "us-east-1",
    {"FailoverRole": "PRIMARY", "SecondPeerVpcId": "vpc-0cccccccccccccccc", "SecondPeerVpcRegion": "eu-west-1"},
)
B_ONLY = Stack("B", "us-west-2", {"FailoverRole": "SECONDARY", "HostedZoneId": ZONE})
B = Stack("B", "us-west-2", {**B_ONLY.overrides, "SecondaryDnsRank": "first"})
C = Stack("C", "eu-west-1", {"FailoverRole": "SECONDARY", "HostedZoneId": ZONE, "SecondaryDnsRank": "second"})
PEERS = {
    "A": "us-west-2/rg-b/10/gds-failover-LedgerTable-BBBB,eu-west-1/rg-c/20/gds-failover-LedgerTable-CCCC",
    "B": "us-east-1/rg-a/30/gds-failover-LedgerTable-AAAA,eu-west-1/rg-c/20/gds-failover-LedgerTable-CCCC",
    "C": "us-east-1/rg-a/30/gds-failover-LedgerTable-AAAA,us-west-2/rg-b/10/gds-failover-LedgerTable-BBBB",
}


# --- evaluating one stack -----------------------------------------------------------------------------


class Evaluated:
    """The transformed template of one stack with its parameters, conditions and intrinsics resolved."""

    def __init__(self, stack: Stack, extra: dict[str, str] | None = None) -> None:
        self.stack = stack
        overrides = {
            "ReplicationGroupId": f"rg-{stack.name.lower()}",
            "RedisPrimaryEndpoint": f"master.rg-{stack.name.lower()}.cache.amazonaws.com",
            **stack.overrides,
            **(extra or {}),
        }
        self.cfn = transformed(overrides)
        defaults = {name: str(spec.get("Default", "")) for name, spec in sam_template()["Parameters"].items()}
        self.params = {
            **defaults,
            **REQUIRED_PARAMETERS,
            **overrides,
            "AWS::Region": stack.region,
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": "gds-failover",
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.eval(self.cfn["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        resource = self.cfn["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def ref(self, name: str) -> Any:
        if name in self.params:
            return self.params[name]
        resource = self.cfn["Resources"][name]
        assert self.exists(name), f"Ref to {name}, which this stack does not create"
        kind = resource["Type"]
        if kind == "AWS::Route53::RecordSet":  # Ref of a record set is its domain name
            return self.eval(resource["Properties"]["Name"])
        if kind == "AWS::Route53::HealthCheck":
            return f"hc-{self.stack.name}"
        if kind == "AWS::Route53::HostedZone":
            return ZONE
        if kind == "AWS::DynamoDB::Table":
            return f"gds-failover-{name}-{self.stack.name * 4}"
        return f"{name}@{self.stack.name}"

    def eval(self, value: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic function
        if isinstance(value, list):
            return [item for item in (self.eval(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: v for k, v in ((k, self.eval(v)) for k, v in value.items()) if v is not NO_VALUE}
        ((key, arg),) = value.items()
        if key == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::If":
            return self.eval(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return str(self.eval(arg[0])) == str(self.eval(arg[1]))
        if key == "Fn::Not":
            return not self.eval(arg[0])
        if key == "Fn::And":
            return all(self.eval(a) for a in arg)
        if key == "Fn::Or":
            return any(self.eval(a) for a in arg)
        if key == "Fn::Split":
            return str(self.eval(arg[1])).split(arg[0])
        if key == "Fn::Select":
            return self.eval(arg[1])[int(arg[0])]
        if key == "Fn::GetAtt":
            target = arg if isinstance(arg, list) else arg.split(".", 1)
            return f"{target[0]}.{target[1]}@{self.stack.name}"
        if key == "Fn::Sub":
            text, local = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.eval(v) for k, v in arg[1].items()})
            return re.sub(
                r"\$\{([A-Za-z0-9_:.]+)\}", lambda m: str(local[m[1]] if m[1] in local else self.ref(m[1])), text
            )
        return {key: self.eval(arg)}

    def records(self) -> list[dict[str, Any]]:
        """The records of the application name (RecordName and the secondaries' pool)."""
        return [record for record in self.all_records() if f".{WITNESS_LABEL}." not in record["Name"]]

    def witness_records(self) -> list[dict[str, Any]]:
        return [record for record in self.all_records() if f".{WITNESS_LABEL}." in record["Name"]]

    def all_records(self) -> list[dict[str, Any]]:
        return [
            self.eval(resource["Properties"])
            for logical_id, resource in self.cfn["Resources"].items()
            if resource["Type"] == "AWS::Route53::RecordSet" and self.exists(logical_id)
        ]


# --- Route 53's answer (a model of the documented semantics) ----------------------------------------------


def answer(records: list[dict[str, Any]], name: str, healthy: set[str]) -> str:
    """What Route 53 answers for ``name`` (failover routing), given the healthy health check ids.

    Modelled on the Route 53 Developer Guide / API reference:
    - failover: PRIMARY when it is healthy; SECONDARY when PRIMARY is not and SECONDARY is; "when the
      secondary record is unhealthy, Route 53 responds with the primary regardless of its health";
    - a non-alias record with a health check is as healthy as the check;
    - a failover alias record must have EvaluateTargetHealth true and then inherits the health of the
      target record group: healthy when any record there is healthy ("backs out of that branch of the tree"
      when none is); the answer is the answer for the target name.
    """
    group = {record["Failover"]: record for record in records if record["Name"] == name}
    assert group, f"nothing at {name}"

    def is_healthy(record: dict[str, Any]) -> bool:
        if "AliasTarget" in record:
            assert record["AliasTarget"]["EvaluateTargetHealth"] is True
            target = record["AliasTarget"]["DNSName"]
            return any(is_healthy(r) for r in records if r["Name"] == target)
        return "HealthCheckId" not in record or record["HealthCheckId"] in healthy

    primary, secondary = group.get("PRIMARY"), group.get("SECONDARY")
    chosen = primary if primary is not None and is_healthy(primary) else None
    if chosen is None and secondary is not None and is_healthy(secondary):
        chosen = secondary
    chosen = chosen or primary or secondary
    assert chosen is not None
    if "AliasTarget" in chosen:
        return answer(records, chosen["AliasTarget"]["DNSName"], healthy)
    (value,) = chosen["ResourceRecords"]
    return str(value)


def union(*stacks: Stack) -> list[dict[str, Any]]:
    return [record for stack in stacks for record in Evaluated(stack).records()]


def endpoint(stack: Stack) -> str:
    return f"master.rg-{stack.name.lower()}.cache.amazonaws.com"


def assert_route53_accepts(records: list[dict[str, Any]]) -> None:
    """One PRIMARY and one SECONDARY at most per failover name; every alias target exists in the zone."""
    for name in {r["Name"] for r in records}:
        roles = [r["Failover"] for r in records if r["Name"] == name]
        assert sorted(roles) == sorted(set(roles)), f"{name}: two records with the same failover role {roles}"
        kind = "TXT" if f".{WITNESS_LABEL}." in name else "CNAME"
        assert {r["Type"] for r in records if r["Name"] == name} == {kind}
    for record in records:
        if "AliasTarget" in record:
            assert record["AliasTarget"]["DNSName"] in {r["Name"] for r in records}
            assert record["AliasTarget"]["HostedZoneId"] == record["HostedZoneId"]


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("healthy", [set(c) for n in range(4) for c in itertools.combinations("ABC", n)], ids=str)
def test_three_regions_answer_the_healthy_writer_and_a_when_none_is(healthy: set[str]) -> None:
    records = union(A, B, C)
    assert_route53_accepts(records)
    expected = next((s for s in (A, B, C) if s.name in healthy), A)
    assert answer(records, "redis.internal", {f"hc-{n}" for n in healthy}) == endpoint(expected)


@pytest.mark.parametrize("healthy", [set(), {"A"}, {"B"}, {"A", "B"}], ids=str)
def test_two_regions_are_exactly_as_before(healthy: set[str]) -> None:
    records = union(A, B_ONLY)
    assert [(r["Name"], r["Failover"]) for r in records] == [
        ("redis.internal", "PRIMARY"),
        ("redis.internal", "SECONDARY"),
    ]
    assert all(
        set(r)
        == {"HostedZoneId", "Name", "Type", "TTL", "SetIdentifier", "Failover", "HealthCheckId", "ResourceRecords"}
        for r in records
    )
    expected = B_ONLY if healthy == {"B"} else A
    assert answer(records, "redis.internal", {f"hc-{n}" for n in healthy}) == endpoint(expected)


@pytest.mark.parametrize(
    "stack", [A, B_ONLY, B, C], ids=lambda stack: f"{stack.name}-{stack.overrides.get('SecondaryDnsRank', 'only')}"
)
@pytest.mark.parametrize("healthy", [False, True], ids=["check-unhealthy", "check-healthy"])
def test_each_stack_has_a_witness_that_answers_route53s_verdict_on_its_writer(stack: Stack, healthy: bool) -> None:
    """The witness answers "healthy" exactly when the stack's writer health check is healthy, and
    "unhealthy" otherwise: its SECONDARY has no health check, so the all-unhealthy fallback never applies."""
    records = Evaluated(stack).witness_records()
    name = witness_name(stack.region, "redis.internal").rstrip(".")
    assert {(r["Name"], r["Failover"], r.get("HealthCheckId")) for r in records} == {
        (name, "PRIMARY", f"hc-{stack.name}"),
        (name, "SECONDARY", None),
    }
    assert {r["TTL"] for r in records} == {str(WITNESS_TTL_SECONDS)}
    assert answer(records, name, {f"hc-{stack.name}"} if healthy else set()) == (
        '"healthy"' if healthy else '"unhealthy"'
    )


def test_each_stack_creates_its_own_record_and_only_the_second_secondary_the_alias() -> None:
    shapes = {
        stack.name: [(r["Name"], r["Failover"], "AliasTarget" in r) for r in Evaluated(stack).records()]
        for stack in (A, B, C)
    }
    assert shapes == {
        "A": [("redis.internal", "PRIMARY", False)],
        "B": [(SECONDARIES, "PRIMARY", False)],
        "C": [(SECONDARIES, "SECONDARY", False), ("redis.internal", "SECONDARY", True)],
    }
    pool, alias = (r for r in Evaluated(C).records())
    assert pool["HealthCheckId"] == "hc-C"
    assert pool["TTL"] == "10"
    assert "TTL" not in alias  # an alias answers with its target's TTL
    assert "HealthCheckId" not in alias  # its health is its target's (EvaluateTargetHealth)
    cfn = Evaluated(C).cfn["Resources"]["SecondariesAliasRecord"]["Properties"]
    assert cfn["AliasTarget"]["DNSName"] == {"Ref": "SecondaryPoolRecord"}  # CloudFormation creates the target first


@pytest.mark.parametrize(
    "steps",
    [
        [(A, B, C)],  # a fresh deploy, in order
        [(A, B_ONLY), (A, B), (A, B, C)],  # upgrading a deployed pair: B to first, then deploy C
        [(A, B, C), (A, B), (A, B_ONLY)],  # back to two regions: delete C, then B to only
    ],
    ids=["fresh", "upgrade", "downgrade"],
)
def test_every_step_of_a_deploy_order_is_a_zone_route53_accepts(steps: list[tuple[Stack, ...]]) -> None:
    for step in steps:
        for prefix in range(1, len(step) + 1):  # the stacks deploy one after another
            assert_route53_accepts([r for stack in step[:prefix] for r in Evaluated(stack).witness_records()])
            assert_route53_accepts(union(*step[:prefix]))


def test_the_zone_stack_associates_the_third_regions_vpc() -> None:
    zone = Evaluated(A).eval(Evaluated(A).cfn["Resources"]["PrivateHostedZone"]["Properties"]["VPCs"])
    assert {"VPCId": "vpc-0cccccccccccccccc", "VPCRegion": "eu-west-1"} in zone
    assert len(zone) == 2  # PeerVpcId not set in this example: no empty entry either


def test_the_promoter_may_read_exactly_the_two_peer_ledgers_when_peers_are_set() -> None:
    stack = Evaluated(C, {"SuccessionPeers": PEERS["C"], "PromotionPriority": "20"})
    policy = stack.cfn["Resources"]["PromoteSuccessionReadPolicy"]
    assert stack.exists("PromoteSuccessionReadPolicy")
    assert "PromoteFunctionRole" in stack.cfn["Resources"]
    properties = stack.eval(policy["Properties"])
    assert properties["Roles"] == ["PromoteFunctionRole@C"]
    (statement,) = properties["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "dynamodb:GetItem")
    assert statement["Resource"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/gds-failover-LedgerTable-AAAA",
        "arn:aws:dynamodb:us-west-2:123456789012:table/gds-failover-LedgerTable-BBBB",
    ]
    assert not Evaluated(B_ONLY).exists("PromoteSuccessionReadPolicy")


def test_the_peer_entry_output_is_what_the_code_parses() -> None:
    stacks = {s.name: Evaluated(s, {"PromotionPriority": p}) for s, p in ((A, "30"), (B, "10"), (C, "20"))}
    entries = {name: stack.eval(stack.cfn["Outputs"]["SuccessionPeerEntry"]["Value"]) for name, stack in stacks.items()}
    assert entries["B"] == "us-west-2/rg-b/10/gds-failover-LedgerTable-BBBB"
    for name in "ABC":
        others = ",".join(entries[o] for o in "ABC" if o != name)
        assert others == PEERS[name]
        assert re.fullmatch(sam_template()["Parameters"]["SuccessionPeers"]["AllowedPattern"], others)
        assert {p.region for p in parse_peers(others)} == {s.region for s in (A, B, C) if s.name != name}


def test_three_region_parameters_default_to_the_two_region_behaviour() -> None:
    parameters = sam_template()["Parameters"]
    assert parameters["SecondaryDnsRank"]["Default"] == "only"
    assert parameters["SuccessionPeers"]["Default"] == ""
    assert parameters["SecondPeerVpcId"]["Default"] == ""
    default = Evaluated(Stack("X", "us-east-1", {}))
    assert default.exists("FailoverRecord")
    for three_region_only in ("SecondaryPoolRecord", "SecondariesAliasRecord", "PromoteSuccessionReadPolicy"):
        assert not default.exists(three_region_only)


def test_rules_keep_the_pool_to_secondary_stacks() -> None:
    rules = sam_template()["Rules"]
    rule = rules["SecondaryDnsRankNeedsSecondaryRole"]
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "FailoverRole"}, "SECONDARY"]}
    assert "SecondPeerVpcNeedsRegion" in rules


def test_samconfig_tertiary_is_a_valid_third_stack() -> None:
    """With its EDIT block taken in; the peer wiring comes from make deploy (PEER=primary), as for B."""
    from tests.template.test_template import samconfig_with_examples

    config = tomllib.loads(samconfig_with_examples())
    deploy = config["tertiary"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["region"] not in {config[e]["deploy"]["parameters"]["region"] for e in ("primary", "secondary")}
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])
    assert (overrides["FailoverRole"], overrides["SecondaryDnsRank"]) == ("SECONDARY", "second")
    assert_valid_stack_parameters(sam_template()["Parameters"], overrides)
    parse_peers(overrides["SuccessionPeers"])
    transformed(overrides | {"HostedZoneId": "Z0123456789ABCDEFGHIJ"})  # the primary's output, at deploy time
