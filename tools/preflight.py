"""make preflight: is a samconfig.toml environment ready to deploy? Read-only.

    python -m tools.preflight --config-env <env> [--peer <env>] [--offline]

First, without any AWS call: the environment's parameter_overrides against template.yaml (required
values present, no placeholders or example values left, every value allowed by the parameter's
pattern, values and range, the template's Rules, and the pair: one PRIMARY, distinct regions, a
zone source for the SECONDARY). Then, unless ``--offline``, with the caller's credentials: the
Global Datastore and its members, the replication group and its primary endpoint, the VPC, subnets
and security groups, a route or endpoint to the APIs the probe needs, the AUTH secret, the hosted
zone and the stack's own state.

Exit codes (tools/checks.py): 0 ready (warnings allowed), 1 a check failed, 2 usage error or a check
could not run (no credentials, access denied, ...).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gdfailover.awscall import ErrorKind, classify
from gdfailover.elasticache import ElastiCacheGlobalDatastores, MemberRole
from tools.awsclients import ClientFactory, boto3_clients, describe_error, is_missing_stack, read_stack
from tools.cfn import SAMCONFIG, load_template, parameter_defaults
from tools.checks import USAGE_OR_AWS_ERROR, Finding, error, exit_code, fail, ok, summary, warn
from tools.deploy_policy import BOUNDARY_NAME
from tools.pairing import creates_zone, plan_wiring
from tools.samconfig import DeployEnv, SamConfig, SamConfigError

#: Values that are examples, not a user's resources (the shipped samconfig.toml's EDIT block uses them).
PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"EDIT"), "an EDIT marker"),
    (re.compile(r"0123456789abcdef|fedcba9876543210", re.IGNORECASE), "an example id"),
    (re.compile(r"(?<![0-9])(111122223333|123456789012|444455556666)(?![0-9])"), "an example account id"),
    (re.compile(r"@example\.(com|net|org)$", re.IGNORECASE), "an example.com address"),
    (re.compile(r"(^|[^a-z0-9])example([^a-z0-9]|$)", re.IGNORECASE), "an example name"),
    (re.compile(r"^11111111-2222-3333-4444-555555555555$"), "an example health check id"),
    (re.compile(r"^Z0123456789"), "an example hosted zone id"),
)

#: CloudFormation's own validation of the AWS-specific parameter types (ids of this shape).
TYPE_PATTERNS = {
    "AWS::EC2::VPC::Id": re.compile(r"vpc-[0-9a-f]{8,17}"),
    "List<AWS::EC2::Subnet::Id>": re.compile(r"subnet-[0-9a-f]{8,17}"),
    "List<AWS::EC2::SecurityGroup::Id>": re.compile(r"sg-[0-9a-f]{8,17}"),
}

#: The probe needs these AWS APIs from its subnets: (condition, service, endpoint parameter).
PROBE_APIS = (
    ("RedisAuthSecretArn", "secretsmanager", "CreateSecretsManagerEndpoint"),
    ("HealthMetricPublisher=api", "monitoring", "CreateMonitoringEndpoint"),
)


class RuleError(ValueError):
    """A template Rule uses an intrinsic this evaluator does not know."""


# ---------------------------------------------------------------------------------------------------
# Offline
# ---------------------------------------------------------------------------------------------------
def offline_checks(
    config: SamConfig, env: DeployEnv, template: Mapping[str, Any], peer_name: str | None = None
) -> list[Finding]:
    specs: Mapping[str, Any] = template.get("Parameters") or {}
    defaults = parameter_defaults(dict(template))
    findings: list[Finding] = [ok("environment", f"{env.name}: stack {env.stack_name} in {env.region}")]

    unknown = sorted(set(env.overrides) - set(specs))
    if unknown:
        findings.append(fail("parameters", f"template.yaml declares no parameter {', '.join(unknown)} (a typo?)"))
    required = [name for name, spec in specs.items() if "Default" not in spec]
    missing = [name for name in required if not env.overrides.get(name)]
    if missing:
        findings.append(
            fail(
                "parameters",
                f"not set in [{env.name}.deploy.parameters] parameter_overrides: {', '.join(missing)} "
                "(uncomment the EDIT block of samconfig.toml and put your values in)",
            )
        )
    placeholders = [
        f"{name}={value} ({why})"
        for name, value in env.overrides.items()
        if (why := placeholder_reason(value)) is not None
    ]
    if placeholders:
        findings.append(fail("placeholders", "example values left: " + "; ".join(placeholders)))
    invalid = [
        problem
        for name, value in env.overrides.items()
        if name in specs and placeholder_reason(value) is None and (problem := invalid_value(name, value, specs[name]))
    ]
    if invalid:
        findings.append(fail("values", "; ".join(invalid)))
    if not (unknown or missing or placeholders or invalid):
        findings.append(ok("parameters", f"{len(env.overrides)} overrides, all declared, set and allowed"))

    try:
        peer = config.peer(env, peer_name)
    except SamConfigError as problem:
        findings.append(fail("pair", str(problem)))
        return findings
    wiring = plan_wiring(env, peer, defaults, peer_stack=None, offline=True)
    effective = {**env.parameters(defaults), **wiring.values}
    findings.extend(rule_checks(template, effective))
    findings.extend(pair_checks(env, peer, defaults))
    findings.extend(fail("zone", problem) for problem in wiring.problems)
    findings.extend(consistency_checks(env, effective))
    return findings


def placeholder_reason(value: str) -> str | None:
    return next((why for pattern, why in PLACEHOLDERS if pattern.search(value)), None)


#: A Secrets Manager secret ARN as IAM matches it: the name, "-" and the 6 characters Secrets Manager adds.
SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:(?P<name>[^:]+)")
FULL_SECRET_NAME = re.compile(r".+-[A-Za-z0-9]{6}")


def partial_secret_arn(value: str) -> str | None:
    """Why a secret ARN without its 6-character suffix cannot work, or None."""
    match = SECRET_ARN.fullmatch(value)
    if match is None or FULL_SECRET_NAME.fullmatch(match.group("name")):
        return None
    return (
        f"RedisAuthSecretArn={value} is a partial secret ARN (no -XXXXXX suffix): the probe's role is granted "
        "that exact ARN, which matches no secret, so GetSecretValue would be denied; use the full ARN "
        "(aws secretsmanager describe-secret --secret-id <name> --query ARN)"
    )


def invalid_value(name: str, value: str, spec: Mapping[str, Any]) -> str | None:
    if name == "RedisAuthSecretArn" and (partial := partial_secret_arn(value)):
        return partial
    kind = str(spec.get("Type", "String"))
    allowed = [str(item) for item in spec.get("AllowedValues") or []]
    if kind in TYPE_PATTERNS:
        items = value.split(",") if kind.startswith("List<") else [value]
        wrong = [item for item in items if not TYPE_PATTERNS[kind].fullmatch(item.strip())]
        problem = f"{name}: {', '.join(wrong) or repr(value)} is not a {kind}" if wrong or not value else None
    elif kind == "Number":
        problem = _invalid_number(name, value, spec, allowed)
    elif allowed and value not in allowed:
        problem = f"{name}={value} is not one of {', '.join(allowed)}"
    elif (pattern := spec.get("AllowedPattern")) and not re.fullmatch(str(pattern), value):
        problem = f"{name}={value} does not match {spec.get('ConstraintDescription') or pattern}"
    else:
        problem = None
    return problem


def _invalid_number(name: str, value: str, spec: Mapping[str, Any], allowed: list[str]) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return f"{name}={value} is not a number"
    if allowed and not any(_same_number(number, item) for item in allowed):
        return f"{name}={value} is not one of {', '.join(allowed)}"
    low, high = spec.get("MinValue"), spec.get("MaxValue")
    if (low is not None and number < float(low)) or (high is not None and number > float(high)):
        return f"{name}={value} is outside {low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
    return None


def _same_number(number: float, text: str) -> bool:
    try:
        return float(text) == number
    except ValueError:
        return False


def rule_checks(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[Finding]:
    """The template's Rules, evaluated here as CloudFormation evaluates them before any change."""
    findings = []
    for name, rule in (template.get("Rules") or {}).items():
        try:
            applies = "RuleCondition" not in rule or bool(evaluate(rule["RuleCondition"], parameters))
            if not applies:
                continue
            for assertion in rule.get("Assertions") or []:
                if not evaluate(assertion["Assert"], parameters):
                    findings.append(fail("rules", f"{name}: {assertion.get('AssertDescription', 'assertion fails')}"))
        except RuleError as problem:
            findings.append(error("rules", f"{name}: {problem}"))
    if not findings:
        findings.append(ok("rules", f"the template's {len(template.get('Rules') or {})} Rules hold"))
    return findings


def evaluate(expression: Any, parameters: Mapping[str, str]) -> Any:
    """Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains and Ref: the rule functions the template uses."""
    if isinstance(expression, list):
        return [evaluate(item, parameters) for item in expression]
    if not (isinstance(expression, dict) and len(expression) == 1):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        if argument not in parameters:
            raise RuleError(f"Ref to {argument}, which has no value")
        return parameters[argument]
    implementation = _RULE_FUNCTIONS.get(function)
    if implementation is None:
        raise RuleError(f"unsupported function {function}")
    return implementation([evaluate(item, parameters) for item in argument])


_RULE_FUNCTIONS: dict[str, Callable[[list[Any]], Any]] = {
    "Fn::Equals": lambda args: str(args[0]) == str(args[1]),
    "Fn::Not": lambda args: not args[0],
    "Fn::And": all,
    "Fn::Or": any,
    "Fn::Contains": lambda args: args[1] in args[0],
}


def pair_checks(env: DeployEnv, peer: DeployEnv | None, defaults: Mapping[str, str]) -> list[Finding]:
    if peer is None:
        return [
            warn(
                "pair",
                f"no other environment has GlobalReplicationGroupId={env.global_replication_group_id or '?'}: "
                f"{env.name} gets no peer wiring (no Route 53 second vantage, no fast path)",
            )
        ]
    findings = []
    mine, theirs = env.parameters(defaults), peer.parameters(defaults)
    roles = sorted([mine.get("FailoverRole", ""), theirs.get("FailoverRole", "")])
    if roles != ["PRIMARY", "SECONDARY"]:
        findings.append(fail("pair", f"{env.name} and {peer.name} are {' and '.join(roles)}: exactly one is PRIMARY"))
    if env.region == peer.region:
        findings.append(fail("pair", f"{env.name} and {peer.name} are both in {env.region}: one stack per region"))
    if mine.get("ReplicationGroupId") == theirs.get("ReplicationGroupId"):
        findings.append(fail("pair", f"{env.name} and {peer.name} name the same ReplicationGroupId"))
    for name in ("RecordName", "HeartbeatKeyPrefix"):
        if mine.get(name) != theirs.get(name):
            findings.append(fail("pair", f"{name} differs: {mine.get(name)} here, {theirs.get(name)} in {peer.name}"))
    if not findings:
        findings.append(ok("pair", f"peer {peer.name} ({peer.region}, {theirs.get('FailoverRole')}); wired at deploy"))
    return findings


def consistency_checks(env: DeployEnv, parameters: Mapping[str, str]) -> list[Finding]:
    """Combinations the template's Rules cannot express (they need string functions or another env)."""
    findings = []
    role = parameters.get("FailoverRole")
    if role == "SECONDARY" and env.overrides.get("PeerVpcId"):
        findings.append(
            fail("zone", "PeerVpcId is set on the SECONDARY: only the PRIMARY creates the zone and associates VPCs")
        )
    if creates_zone(parameters):
        record, zone = parameters.get("RecordName", ""), parameters.get("HostedZoneName", "")
        if not (record == zone or record.endswith("." + zone)):
            findings.append(fail("zone", f"RecordName {record} is not inside HostedZoneName {zone}"))
        if not parameters.get("PeerVpcId"):
            findings.append(warn("zone", "the zone this stack creates is associated with its own VPC only"))
    for name, service in (("RedisAuthSecretArn", "secret"), ("PeerPromotionTopicArn", "peer topic")):
        arn_region = _arn_region(parameters.get(name, ""))
        if arn_region is None:
            continue
        same = arn_region == env.region
        if name == "RedisAuthSecretArn" and not same:
            findings.append(fail("regions", f"the {service} is in {arn_region}, the stack in {env.region}"))
        if name == "PeerPromotionTopicArn" and same:
            findings.append(fail("regions", f"the {service} is in this stack's own region {env.region}"))
    if parameters.get("PeerVpcRegion") == env.region:
        findings.append(fail("regions", f"PeerVpcRegion is this stack's own region {env.region}"))
    boundary = parameters.get("PermissionsBoundaryArn", "")
    if boundary and not boundary.endswith(f":policy/{BOUNDARY_NAME}"):
        findings.append(
            warn(
                "boundary",
                f"PermissionsBoundaryArn names {boundary.rsplit('/', 1)[-1]}: the deployer policy (docs/deploy-policy) "
                f"creates and changes roles only with {BOUNDARY_NAME}",
            )
        )
    for condition, service, endpoint in PROBE_APIS:
        if _probe_needs(parameters, condition) and parameters.get(endpoint) != "true":
            findings.append(
                warn(
                    "endpoints", f"the probe needs the {service} API: a NAT route, or {endpoint}=true (checked online)"
                )
            )
    return findings


def _probe_needs(parameters: Mapping[str, str], condition: str) -> bool:
    name, _, value = condition.partition("=")
    return parameters.get(name) == value if value else bool(parameters.get(name))


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" and not arn.startswith("<") else None


# ---------------------------------------------------------------------------------------------------
# Online
# ---------------------------------------------------------------------------------------------------
def online_checks(
    env: DeployEnv, peer: DeployEnv | None, parameters: Mapping[str, str], clients: ClientFactory
) -> list[Finding]:
    region = env.region
    checks: tuple[tuple[str, Callable[[], list[Finding]]], ...] = (
        ("datastore", lambda: _datastore(env, peer, parameters, clients)),
        ("replication group", lambda: _replication_group(parameters, clients("elasticache", region))),
        ("members", lambda: _members(env, peer, parameters, clients)),
        ("network", lambda: _network(parameters, clients("ec2", region))),
        ("probe egress", lambda: _probe_egress(parameters, region, clients("ec2", region))),
        ("secret", lambda: _secret(parameters, clients("secretsmanager", region))),
        ("zone", lambda: _zone(env, peer, parameters, clients)),
        ("stack", lambda: _stack(env, clients)),
    )
    findings: list[Finding] = []
    for name, check in checks:
        try:
            findings.extend(check())
        except Exception as failure:  # every AWS failure is one line, never a traceback
            findings.append(error(name, describe_error(name, failure)))
    return findings


def _datastore(
    env: DeployEnv, peer: DeployEnv | None, parameters: Mapping[str, str], clients: ClientFactory
) -> list[Finding]:
    gds_id = parameters["GlobalReplicationGroupId"]
    try:
        datastore = ElastiCacheGlobalDatastores(clients("elasticache", env.region)).describe(gds_id)
    except Exception as failure:
        if classify("DescribeGlobalReplicationGroups", failure).kind == ErrorKind.NOT_FOUND:
            return [
                fail(
                    "datastore", f"no Global Datastore {gds_id} seen from {env.region} (the full id, prefix included?)"
                )
            ]
        raise
    findings = []
    level = ok if datastore.status == "available" else warn
    findings.append(level("datastore", f"{gds_id} is {datastore.status}"))
    expected = [(env, parameters["ReplicationGroupId"], parameters.get("FailoverRole"))]
    if peer is not None:
        expected.append((peer, peer.overrides.get("ReplicationGroupId", ""), peer.overrides.get("FailoverRole")))
    for member_env, group_id, record_role in expected:
        member = datastore.member(group_id)
        if member is None or member.region != member_env.region:
            where = f"in {member.region}" if member else "not a member"
            findings.append(fail("datastore", f"{group_id} ({member_env.name}, {member_env.region}) is {where}"))
        elif record_role == "PRIMARY" and member.role != MemberRole.PRIMARY:
            findings.append(
                warn("datastore", f"{group_id} has the PRIMARY record but is {member.role} today (after a failover?)")
            )
        else:
            findings.append(ok("datastore", f"{group_id} in {member.region} is {member.role}"))
        if member is not None and member.region == member_env.region:
            findings += datastore_stack_findings(clients("cloudformation", member.region), group_id, str(member.role))
    return findings


def datastore_stack_findings(cloudformation: Any, group_id: str, actual_role: str) -> list[Finding]:
    """A stack that manages the replication group (examples/datastore) and declares the other role.

    After a failover its ``Role`` parameter describes the original layout; an update of that stack could
    fail back or fail (docs/deploy.md, "The datastore stack after a failover"). No such stack: nothing."""
    try:
        resources = cloudformation.describe_stack_resources(PhysicalResourceId=group_id)["StackResources"]
        stack_names = {
            r["StackName"] for r in resources if r.get("ResourceType") == "AWS::ElastiCache::ReplicationGroup"
        }
        findings = []
        for stack_name in sorted(stack_names):
            (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
            declared = {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters") or []}.get("Role")
            if declared in ("PRIMARY", "SECONDARY") and declared != actual_role:
                findings.append(
                    warn(
                        "datastore stack",
                        f"{stack_name} declares Role={declared} for {group_id}, which is {actual_role} today "
                        "(after a failover): do not update that stack until a planned switchover (make switchover) "
                        "restores its layout (docs/deploy.md, the datastore stack after a failover)",
                    )
                )
        return findings
    except Exception as failure:
        if is_missing_stack(failure):  # the group is not managed by a stack (or not by one we may read)
            return []
        return [
            warn(
                "datastore stack",
                f"cannot tell which stack manages {group_id}: {describe_error('DescribeStackResources', failure)}",
            )
        ]


def _replication_group(parameters: Mapping[str, str], elasticache: Any) -> list[Finding]:
    group_id = parameters["ReplicationGroupId"]
    try:
        group = elasticache.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    except Exception as failure:
        if classify("DescribeReplicationGroups", failure).code == "ReplicationGroupNotFoundFault":
            return [fail("replication group", f"{group_id} does not exist in this region")]
        raise
    if group.get("ClusterEnabled"):
        endpoint = group.get("ConfigurationEndpoint") or {}
    else:
        endpoint = ((group.get("NodeGroups") or [{}])[0]).get("PrimaryEndpoint") or {}
    findings = []
    address, port = endpoint.get("Address"), endpoint.get("Port")
    if address != parameters["RedisPrimaryEndpoint"]:
        findings.append(
            fail(
                "replication group",
                f"RedisPrimaryEndpoint is {parameters['RedisPrimaryEndpoint']}, {group_id}'s is {address}",
            )
        )
    if port is not None and str(port) != parameters.get("RedisPort", "6379"):
        findings.append(
            fail("replication group", f"RedisPort is {parameters.get('RedisPort')}, {group_id} listens on {port}")
        )
    cluster = bool(group.get("ClusterEnabled"))
    if cluster != (parameters.get("ClusterMode", "disabled") == "enabled"):
        findings.append(
            fail(
                "replication group",
                f"ClusterMode={parameters.get('ClusterMode', 'disabled')} but {group_id} has cluster mode "
                f"{'enabled' if cluster else 'disabled'} (set ClusterMode={'enabled' if cluster else 'disabled'}; "
                f"RedisPrimaryEndpoint is then its {'configuration' if cluster else 'primary'} endpoint)",
            )
        )
    tls = bool(group.get("TransitEncryptionEnabled"))
    if tls != (parameters.get("RedisTls") == "true"):
        findings.append(
            fail("replication group", f"RedisTls={parameters.get('RedisTls')} but in-transit encryption is {tls}")
        )
    needs_auth = bool(group.get("AuthTokenEnabled")) or bool(group.get("UserGroupIds"))
    if needs_auth and not parameters.get("RedisAuthSecretArn"):
        findings.append(fail("replication group", f"{group_id} requires AUTH but RedisAuthSecretArn is empty"))
    if not findings:
        findings.append(ok("replication group", f"{group_id} {group.get('Status')}, primary endpoint {address}:{port}"))
    return findings


#: What every member of a Global Datastore must share (ElastiCache user guide, Global Datastore
#: prerequisites: same node type, engine version and number of shards); name -> how to read it.
MEMBER_TRAITS: tuple[tuple[str, Callable[[Mapping[str, Any]], Any]], ...] = (
    ("cluster mode", lambda group: "enabled" if group.get("ClusterEnabled") else "disabled"),
    ("shards", lambda group: len(group.get("NodeGroups") or [])),
    ("node type", lambda group: group.get("CacheNodeType")),
    ("engine", lambda group: group.get("Engine")),
)


def member_mismatches(groups: Mapping[str, Mapping[str, Any]], datastore: Mapping[str, Any]) -> list[str]:
    """Traits on which the members (``{group id: DescribeReplicationGroups entry}``) differ from each other
    or from the datastore's own ``CacheNodeType`` / ``Engine`` / ``ClusterEnabled``."""
    problems = []
    for trait, read in MEMBER_TRAITS:
        values = {group_id: read(group) for group_id, group in groups.items() if read(group) is not None}
        if len(set(values.values())) > 1:
            problems.append(f"{trait} differs: " + ", ".join(f"{g} {v}" for g, v in sorted(values.items())))
    expected = {
        "node type": datastore.get("CacheNodeType"),
        "engine": datastore.get("Engine"),
        "cluster mode": None
        if "ClusterEnabled" not in datastore
        else "enabled"
        if datastore["ClusterEnabled"]
        else "disabled",
    }
    for trait, read in MEMBER_TRAITS:
        want = expected.get(trait)
        for group_id, group in sorted(groups.items()):
            value = read(group)
            if want is not None and value is not None and value != want:
                problems.append(f"{group_id} {trait} is {value}, the Global Datastore's is {want}")
    return problems


def _members(
    env: DeployEnv, peer: DeployEnv | None, parameters: Mapping[str, str], clients: ClientFactory
) -> list[Finding]:
    """The members this pair deploys to have the same shards, node type, engine and cluster mode."""
    members = [(env.region, parameters["ReplicationGroupId"])]
    if peer is not None and peer.overrides.get("ReplicationGroupId"):
        members.append((peer.region, peer.overrides["ReplicationGroupId"]))
    groups = {}
    for region, group_id in members:
        found = clients("elasticache", region).describe_replication_groups(ReplicationGroupId=group_id)
        groups[group_id] = found["ReplicationGroups"][0]
    documents = clients("elasticache", env.region).describe_global_replication_groups(
        GlobalReplicationGroupId=parameters["GlobalReplicationGroupId"], ShowMemberInfo=True
    )["GlobalReplicationGroups"]
    problems = member_mismatches(groups, documents[0] if documents else {})
    if problems:
        return [fail("members", problem) for problem in problems]
    first = next(iter(groups.values()))
    traits = ", ".join(f"{trait} {read(first)}" for trait, read in MEMBER_TRAITS if read(first) is not None)
    return [ok("members", f"{' and '.join(groups)} match: {traits}")]


def _network(parameters: Mapping[str, str], ec2: Any) -> list[Finding]:
    vpc_id = parameters["VpcId"]
    subnet_ids = _split(parameters["SubnetIds"])
    group_ids = _split(parameters["SecurityGroupIds"])
    findings = []
    listings: tuple[tuple[str, Callable[[], list[dict[str, Any]]]], ...] = (
        ("VPC", lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]),
        ("subnets", lambda: ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]),
        ("security groups", lambda: ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]),
    )
    for kind, described in listings:
        try:
            items = described()
        except Exception as failure:
            code = classify(kind, failure).code
            if code.startswith("InvalidVpcID") or code.startswith("InvalidSubnetID") or code.startswith("InvalidGroup"):
                findings.append(fail("network", f"{kind}: {classify(kind, failure).message}"))
                continue
            raise
        if kind == "VPC":
            continue
        elsewhere = [str(item.get("SubnetId") or item.get("GroupId")) for item in items if item.get("VpcId") != vpc_id]
        if elsewhere:
            findings.append(fail("network", f"{kind} {', '.join(elsewhere)} are not in {vpc_id}"))
        if kind == "subnets":
            zones = {item.get("AvailabilityZone") for item in items}
            if len(zones) < 2:
                findings.append(
                    warn("network", f"the probe's subnets span {len(zones)} availability zone; use two or more")
                )
    if not any(finding.level.value in ("FAIL", "warn") for finding in findings):
        findings.append(ok("network", f"{vpc_id}: {len(subnet_ids)} subnets, {len(group_ids)} security groups"))
    return findings


def _probe_egress(parameters: Mapping[str, str], region: str, ec2: Any) -> list[Finding]:
    """Each API the probe calls needs an interface endpoint (existing or created) or a NAT route."""
    findings = []
    subnet_ids = _split(parameters["SubnetIds"])
    for condition, service, endpoint_parameter in PROBE_APIS:
        if not _probe_needs(parameters, condition) or parameters.get(endpoint_parameter) == "true":
            continue
        endpoints = ec2.describe_vpc_endpoints(
            Filters=[
                {"Name": "vpc-id", "Values": [parameters["VpcId"]]},
                {"Name": "service-name", "Values": [f"com.amazonaws.{region}.{service}"]},
            ]
        )["VpcEndpoints"]
        if endpoints:
            findings.append(ok("probe egress", f"{service}: interface endpoint {endpoints[0].get('VpcEndpointId')}"))
            continue
        without = [subnet for subnet in subnet_ids if not _has_nat_route(ec2, parameters["VpcId"], subnet)]
        if without:
            findings.append(
                fail(
                    "probe egress",
                    f"{service}: no interface endpoint in the VPC and no NAT route from {', '.join(without)}: "
                    f"set {endpoint_parameter}=true",
                )
            )
        else:
            findings.append(ok("probe egress", f"{service}: through a NAT route"))
    return findings


def _has_nat_route(ec2: Any, vpc_id: str, subnet_id: str) -> bool:
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}])[
        "RouteTables"
    ]
    if not tables:  # the subnet uses the VPC's main route table
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
    egress_targets = ("NatGatewayId", "TransitGatewayId", "InstanceId", "NetworkInterfaceId")
    return any(
        route.get("DestinationCidrBlock") == "0.0.0.0/0" and any(route.get(target) for target in egress_targets)
        for table in tables
        for route in table.get("Routes") or []
    )


def _secret(parameters: Mapping[str, str], secretsmanager: Any) -> list[Finding]:
    arn = parameters.get("RedisAuthSecretArn")
    if not arn:
        return [ok("secret", "RedisAuthSecretArn empty: AUTH off")]
    try:
        described = secretsmanager.describe_secret(SecretId=arn)  # metadata only, never the value
    except Exception as failure:
        if classify("DescribeSecret", failure).kind == ErrorKind.NOT_FOUND:
            return [fail("secret", f"{arn} does not exist")]
        raise
    if described.get("DeletedDate"):
        return [fail("secret", f"{described.get('Name')} is scheduled for deletion")]
    full = str(described.get("ARN") or arn)
    if full != arn:  # a name that itself ends in "-" and 6 characters looks complete offline
        return [fail("secret", f"RedisAuthSecretArn={arn} is a partial ARN: use the full ARN {full}")]
    return [ok("secret", f"{described.get('Name')} exists")]


def _zone(
    env: DeployEnv, peer: DeployEnv | None, parameters: Mapping[str, str], clients: ClientFactory
) -> list[Finding]:
    zone_id = env.overrides.get("HostedZoneId")
    if not zone_id and creates_zone(parameters):
        return [ok("zone", "no HostedZoneId: this stack creates the zone")]
    if not zone_id:
        peer_stack = read_stack(clients, peer.stack_name, peer.region) if peer else None
        zone_id = peer_stack.outputs.get("HostedZoneId", "") if peer_stack and peer_stack.usable else ""
        if not zone_id:
            return [ok("zone", "no HostedZoneId: taken from the PRIMARY's stack output once it is deployed")]
    route53 = clients("route53", env.region)
    try:
        zone = route53.get_hosted_zone(Id=zone_id)
    except Exception as failure:
        if classify("GetHostedZone", failure).code == "NoSuchHostedZone":
            return [fail("zone", f"hosted zone {zone_id} does not exist")]
        raise
    findings = []
    name = str(zone["HostedZone"]["Name"]).rstrip(".")
    record = parameters.get("RecordName", "")
    if not (record == name or record.endswith("." + name)):
        findings.append(fail("zone", f"RecordName {record} is not inside the zone {name}"))
    if (zone["HostedZone"].get("Config") or {}).get("PrivateZone"):
        vpcs = {(vpc.get("VPCId"), vpc.get("VPCRegion")) for vpc in zone.get("VPCs") or []}
        if (parameters["VpcId"], env.region) not in vpcs:
            findings.append(
                fail(
                    "zone",
                    f"{name} is not associated with {parameters['VpcId']}: clients there cannot resolve {record}",
                )
            )
    else:
        findings.append(warn("zone", f"{name} is a public zone: {record} is visible outside the VPCs"))
    if not findings:
        findings.append(ok("zone", f"{name} ({zone_id}), private, associated with {parameters['VpcId']}"))
    return findings


def _stack(env: DeployEnv, clients: ClientFactory) -> list[Finding]:
    stack = read_stack(clients, env.stack_name, env.region)
    if stack is None:
        return [ok("stack", f"{env.stack_name} not deployed yet in {env.region}")]
    if stack.status.endswith("_IN_PROGRESS"):
        return [fail("stack", f"{env.stack_name} is {stack.status}: wait for it to finish")]
    if stack.status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED"):
        return [
            fail("stack", f"{env.stack_name} is {stack.status}: delete it first (sam delete --config-env {env.name})")
        ]
    return [ok("stack", f"{env.stack_name} is {stack.status}: this deploy updates it")]


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# ---------------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------------
def run(
    config_env: str,
    peer_name: str | None = None,
    offline: bool = False,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
) -> tuple[int, list[Finding]]:
    try:
        config = SamConfig.load(samconfig)
        env = config.env(config_env)
        template = load_template()
    except (SamConfigError, OSError, ValueError) as problem:
        return USAGE_OR_AWS_ERROR, [error("samconfig", str(problem))]
    findings = offline_checks(config, env, template, peer_name)
    if offline or exit_code(findings) != 0:
        return exit_code(findings), findings
    try:
        peer = config.peer(env, peer_name)
    except SamConfigError as problem:  # reported offline already
        return USAGE_OR_AWS_ERROR, [*findings, error("pair", str(problem))]
    factory = clients or boto3_clients()
    try:
        identity = factory("sts", env.region).get_caller_identity()
    except Exception as failure:
        return USAGE_OR_AWS_ERROR, [*findings, error("credentials", describe_error("GetCallerIdentity", failure))]
    findings.append(ok("credentials", f"account {identity.get('Account')} as {identity.get('Arn')}"))
    parameters = env.parameters(parameter_defaults(template))
    findings.extend(online_checks(env, peer, parameters, factory))
    return exit_code(findings), findings


def main(argv: Sequence[str] | None = None, clients: ClientFactory | None = None, samconfig: Path = SAMCONFIG) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", required=True, help="the samconfig.toml environment to check")
    parser.add_argument("--peer", help="the peer environment, when more than one shares the Global Datastore")
    parser.add_argument("--offline", action="store_true", help="only the checks that need no AWS call")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return USAGE_OR_AWS_ERROR if exit_.code else 0
    code, findings = run(args.config_env, args.peer, args.offline, clients, samconfig)
    for finding in findings:
        print(finding.line())
    verdict = {0: "ready", 1: "NOT ready", 2: "could not check"}[code]
    print(f"preflight {args.config_env}: {verdict} ({summary(findings)})")
    return code


if __name__ == "__main__":
    sys.exit(main())
