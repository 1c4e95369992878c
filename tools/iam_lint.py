"""IAM policy lint over every policy the project deploys or documents, against parliament's IAM database.

    python -m tools.iam_lint [-v]       (make lint runs it; exit 0 clean, 1 findings, 2 bad input)

What it reads:

- ``template.yaml`` after the AWS::Serverless transform, in ``VARIANTS`` (together they turn on every
  condition that adds a policy statement): the roles' inline policies and ``AWS::IAM::Policy`` documents
  (identity policies), the KMS key, SNS topic and SQS queue policies (resource policies);
- ``examples/*/template.yaml`` (plain CloudFormation), the same way;
- ``docs/deploy-policy/*.json``: the deployer policy and the permissions boundary (tools/deploy_policy.py).

What fails (one line each, ``source: Sid: KIND: detail``):

- ``UNKNOWN_ACTION``: an action (or wildcard) that names no IAM action in the database;
- ``RESOURCE_MISMATCH``: an action that takes none of its statement's resources (parliament);
- ``DEAD_RESOURCE``: a resource that no action of its statement takes: it grants nothing, and reads like
  a limit that is not there;
- ``UNKNOWN_CONDITION_FOR_ACTION``: a service condition key an action of the statement does not support
  (for that action the statement then grants nothing, or limits nothing);
- ``STAR_ON_MUTATING``: ``Resource "*"`` on a Write, Permissions management or Tagging action that takes
  a resource type (actions that take none can only be granted on ``"*"``: the database is the reason);
- parliament's other findings (malformed statements, condition operators and value types, ARNs).

Resource policies (a key policy's ``"*"`` is the key itself) are checked for actions and condition keys
only. Exceptions live in ``tools/iam_lint_allowlist.toml``, each with its reason; an entry that matches
nothing fails too, so the list cannot rot. parliament's database lags new actions: those are allowlisted
with their source.
"""

from __future__ import annotations

import argparse
import copy
import fnmatch
import importlib.resources
import json
import logging
import re
import sys
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tools.cfn import ROOT

ALLOWLIST = ROOT / "tools" / "iam_lint_allowlist.toml"
POLICY_DIR = ROOT / "docs" / "deploy-policy"
EXAMPLES = ROOT / "examples"

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "gds-failover"

#: Access levels that change something (Service Authorization Reference, "Access levels").
MUTATING = frozenset({"Write", "Permissions management", "Tagging"})

#: Parameter sets of template.yaml whose union turns on every condition that adds a policy statement
#: (tests/template/test_iam_lint.py checks it). Values are valid examples, as tests/template/stack.py's.
VARIANTS: dict[str, dict[str, str]] = {
    "primary-defaults": {},
    "primary-everything": {
        "RedisAuthSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:auth-AbCdEf",
        "HealthMetricPublisher": "api",
        "CreateMonitoringEndpoint": "true",
        "CreateSecretsManagerEndpoint": "true",
        "BreakGlassDisassociate": "true",
        "OperatorEmail": "sre@example.com",
        "PermissionsBoundaryArn": f"arn:aws:iam::{ACCOUNT}:policy/gds-failover-boundary",
        "CreateDashboard": "true",
        "PeerReplicationGroupId": "rg-b",
        "PeerHealthCheckId": "11111111-2222-3333-4444-555555555555",
        "PeerWriterAlarmName": "gds-failover-writer-rg-b",
        "PeerPromotionTopicArn": f"arn:aws:sns:us-west-2:{ACCOUNT}:gds-failover-promotion",
    },
    "secondary-three-regions": {
        "FailoverRole": "SECONDARY",
        "HostedZoneId": "Z0123456789ABCDEFGHIJ",
        "SecondaryDnsRank": "second",
        # the peers' ledger tables: CloudFormation names them after their stacks
        "SuccessionPeers": "us-east-1/rg-a/30/gds-failover-a-Ledger-AAAA,us-west-2/rg-b/10/gds-failover-b-Ledger-BBBB",
        "OperatorEmail": "sre@example.com",
        "ClusterMode": "enabled",
        "RedisPrimaryEndpoint": "clustercfg.my-group.abc123.use1.cache.amazonaws.com",
        "MonitoredNodeCount": "6",
    },
}


class LintError(Exception):
    """Bad input (allowlist, template): one line, exit 2."""


# --- parliament ------------------------------------------------------------------------------------


def _parliament() -> types.ModuleType:
    """parliament 1.6.4 reads its data files with ``pkg_resources``, which setuptools >= 81 no longer
    ships (constraints.txt pins a newer setuptools): give it the one function it calls."""
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")

            def resource_filename(package: str, name: str) -> str:
                return str(importlib.resources.files(package).joinpath(name))

            shim.resource_filename = resource_filename  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    import parliament

    module: types.ModuleType = parliament
    return module


@cache
def _privileges() -> dict[str, dict[str, dict[str, Any]]]:
    """prefix -> lower-case action name -> privilege (access_level, resource_types), from parliament."""
    services: dict[str, dict[str, dict[str, Any]]] = {}
    for service in _parliament().iam_definition:
        named = services.setdefault(service["prefix"], {})
        named.update({p["privilege"].lower(): {**p, "service": service} for p in service["privileges"]})
    return services


def expand(action: str) -> list[str]:
    """``kms:GenerateDataKey*`` -> the database's actions it names (empty when it names none)."""
    prefix, _, name = action.partition(":")
    named = _privileges().get(prefix.lower(), {})
    return sorted(
        f"{prefix.lower()}:{p['privilege']}" for key, p in named.items() if fnmatch.fnmatchcase(key, name.lower())
    )


def privilege(action: str) -> dict[str, Any]:
    prefix, _, name = action.partition(":")
    return _privileges()[prefix][name.lower()]


def resource_formats(action: str) -> list[tuple[str, str]]:
    """(resource type, ARN pattern) pairs the action takes; empty when it takes only "*"."""
    details = privilege(action)
    formats = []
    for entry in details["resource_types"]:
        name = entry["resource_type"].rstrip("*")
        if not name:
            continue
        for resource in details["service"]["resources"]:
            if resource["resource"] == name:
                formats.append((name, re.sub(r"\$\{.*?\}", "*", resource["arn"])))
    return formats


def takes(action: str, resource: str) -> bool:
    parliament = _parliament()
    return any(parliament.is_arn_strictly_valid(kind, fmt, resource) for kind, fmt in resource_formats(action))


# --- allowlist -------------------------------------------------------------------------------------


@dataclass
class Entry:
    kind: str  # one of KINDS
    action: str
    reason: str
    source: str = "*"
    key: str = ""
    resource: str = ""
    used: int = 0

    def matches(self, source: str, action: str, key: str = "", resource: str = "") -> bool:
        return (
            fnmatch.fnmatchcase(source, self.source)
            and fnmatch.fnmatchcase(action.lower(), self.action.lower())
            and (not self.key or self.key == key)
            and (not self.resource or fnmatch.fnmatchcase(resource, self.resource))
        )


#: unknown_action: an action parliament's database lacks; star: "*" on a mutating action; condition: a
#: condition key an action does not support; resource: a resource no action of its statement takes, or an
#: action none of its statement's resources fit (both from the database's resource types); finding: one of
#: parliament's own findings (``action`` holds its name, e.g. INVALID_ARN).
KINDS = ("unknown_action", "star", "condition", "resource", "finding")


def load_allowlist(path: Path | None = None) -> list[Entry]:
    path = path or ALLOWLIST
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LintError(f"{path.name}: {error}") from None
    entries = []
    for kind, items in document.items():
        if kind not in KINDS or not isinstance(items, list):
            raise LintError(f"{path.name}: [{kind}] is not one of {', '.join(f'[[{k}]]' for k in KINDS)}")
        for item in items:
            if not isinstance(item, dict) or not str(item.get("reason", "")).strip() or not item.get("action"):
                raise LintError(f"{path.name}: every [[{kind}]] entry needs an action and a reason: {item}")
            unknown = set(item) - {"action", "reason", "source", "key", "resource"}
            if unknown:
                raise LintError(f"{path.name}: [[{kind}]] {item['action']}: unknown fields {sorted(unknown)}")
            fields = {k: str(v) for k, v in item.items()}
            entries.append(
                Entry(
                    kind=kind,
                    action=fields["action"],
                    reason=fields["reason"],
                    source=fields.get("source", "*"),
                    key=fields.get("key", ""),
                    resource=fields.get("resource", ""),
                )
            )
    return entries


# --- findings --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    source: str
    sid: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.source}: {self.sid}: {self.kind}: {self.detail}"


@dataclass
class Policy:
    source: str
    document: dict[str, Any]
    resource_policy: bool = False
    notes: list[str] = field(default_factory=list)


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allowed(allowlist: list[Entry], kind: str, source: str, action: str, *, key: str = "", resource: str = "") -> bool:
    for entry in allowlist:
        if entry.kind == kind and entry.matches(source, action, key, resource):
            entry.used += 1
            return True
    return False


@dataclass
class _Statement:
    """One statement being checked: its source label, known (expanded) actions and resources."""

    policy: Policy
    sid: str
    known: list[str]
    expanded: list[str]
    resources: list[str]
    unknown_kept: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"{self.policy.source}:{self.sid}"

    def report(self, kind: str, detail: str) -> None:
        self.findings.append(Finding(self.policy.source, self.sid, kind, detail))


#: Global condition keys whose presence depends on the action: tags (Service Authorization Reference lists
#: them per action and per resource type). The other aws: keys are in every request context that has them.
TAG_KEYS = ("aws:resourcetag/", "aws:requesttag/", "aws:tagkeys")


def supported_keys(action: str) -> list[str]:
    """Condition keys an action supports: its own, and those of the resource types it takes."""
    details = privilege(action)
    keys = [k for entry in details["resource_types"] for k in entry["condition_keys"]]
    types = {entry["resource_type"].rstrip("*") for entry in details["resource_types"]}
    keys += [k for r in details["service"]["resources"] if r["resource"] in types for k in r["condition_keys"]]
    return keys


def _check_conditions(stmt: _Statement, conditions: dict[str, Any], allowlist: list[Entry]) -> None:
    parliament = _parliament()
    keys = [
        key
        for block in conditions.values()
        for key in block
        if not key.lower().startswith("aws:") or key.lower().startswith(TAG_KEYS)
    ]
    for key in keys:  # the other global (aws:) keys are left to parliament, which checks their value types
        for action in stmt.expanded:
            if any(parliament.statement.is_condition_key_match(k, key) for k in supported_keys(action)):
                continue
            if not _allowed(allowlist, "condition", stmt.source, action, key=key):
                stmt.report("UNKNOWN_CONDITION_FOR_ACTION", f"{action} does not support {key}")


def _check_resources(stmt: _Statement, allowlist: list[Entry]) -> None:
    resources, expanded = stmt.resources, stmt.expanded
    for resource in resources:
        if resource == "*" or stmt.unknown_kept or any(takes(action, resource) for action in expanded):
            continue  # an allowlisted unknown action may be the one that takes it
        if not any(_allowed(allowlist, "resource", stmt.source, a, resource=resource) for a in expanded):
            stmt.report("DEAD_RESOURCE", f"{resource} is taken by none of {', '.join(stmt.known)}: it grants nothing")
    if "*" in resources:
        return
    for action in expanded:
        if not resource_formats(action) or any(takes(action, r) for r in resources):
            continue
        if not any(_allowed(allowlist, "resource", stmt.source, action, resource=r) for r in resources):
            stmt.report("ACTION_WITHOUT_RESOURCE", f"{action} takes none of {', '.join(resources)}: not granted")


def _check_star(stmt: _Statement, allowlist: list[Entry]) -> None:
    for action in stmt.expanded:
        mutating = privilege(action)["access_level"] in MUTATING and resource_formats(action)
        if mutating and not _allowed(allowlist, "star", stmt.source, action):
            stmt.report("STAR_ON_MUTATING", f'{action} on "*" (it takes a resource type) without a reason')


def _check_statement(
    policy: Policy, number: int, statement: dict[str, Any], allowlist: list[Entry]
) -> tuple[list[Finding], dict[str, Any] | None]:
    """The statement's findings, and the statement as parliament should see it (None: nothing left)."""
    sid = str(statement.get("Sid") or f"Statement[{number}]")
    stmt = _Statement(policy, sid, [], [], [str(r) for r in _listed(statement.get("Resource", []))], False)
    if "NotAction" in statement or "NotResource" in statement:
        stmt.report("UNSUPPORTED", "NotAction/NotResource: this lint cannot check them; write Action/Resource")
        return stmt.findings, None
    for action in (str(a) for a in _listed(statement.get("Action", []))):
        if action != "*" and expand(action):
            stmt.known.append(action)
        elif _allowed(allowlist, "unknown_action", stmt.source, action):
            stmt.unknown_kept = True
        else:
            stmt.report("UNKNOWN_ACTION", f"{action} is not an IAM action in parliament's database")
    if not stmt.known:
        return stmt.findings, None
    stmt.expanded = sorted({a for action in stmt.known for a in expand(action)})
    _check_conditions(stmt, statement.get("Condition") or {}, allowlist)
    if not policy.resource_policy:
        _check_resources(stmt, allowlist)
        if "*" in stmt.resources and statement.get("Effect") == "Allow":
            _check_star(stmt, allowlist)
    return stmt.findings, {**statement, "Action": stmt.known}


def lint_policy(policy: Policy, allowlist: list[Entry]) -> list[Finding]:
    """The findings of one policy document (allowlisted ones left out, and counted as used)."""
    parliament = _parliament()
    findings: list[Finding] = []
    checked: list[dict[str, Any]] = []  # what parliament sees: allowlisted unknown actions taken out
    for number, statement in enumerate(_listed(policy.document.get("Statement", []))):
        found, kept = _check_statement(policy, number, statement, allowlist)
        findings += found
        if kept is not None:
            checked.append(kept)
    if not policy.resource_policy:
        findings += _required_resource_types(policy, checked)
    if not checked:
        return findings
    document = {**policy.document, "Statement": checked}
    analyzed = parliament.analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
    for finding in analyzed.findings:
        if finding.issue in REPLACED:
            continue  # checked above, with the allowlist
        sid = _sid_of(finding.location) or "-"
        if _allowed(allowlist, "finding", f"{policy.source}:{sid}", finding.issue):
            continue
        findings.append(Finding(policy.source, sid, finding.issue, _detail(finding.detail)))
    return findings


#: parliament's findings this lint replaces: UNKNOWN_* and RESOURCE_MISMATCH are checked above, across
#: the policy's statements (parliament wants every resource type an action requires in each statement that
#: names it, while IAM authorizes each resource against all statements); RESOURCE_STAR is STAR_ON_MUTATING
#: ("*" on a read-only action is not a finding); MISMATCHED_TYPE_BUT_USABLE is parliament's own "usable".
REPLACED = frozenset(
    {
        "UNKNOWN_ACTION",
        "UNKNOWN_PREFIX",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "RESOURCE_MISMATCH",
        "RESOURCE_STAR",
        "RESOURCE_EFFECTIVELY_STAR",
        "MISMATCHED_TYPE_BUT_USABLE",
    }
)


def _required_resource_types(policy: Policy, statements: list[dict[str, Any]]) -> list[Finding]:
    """An action granted on ARNs needs an ARN of every resource type it requires (Service Authorization
    Reference: the required ones carry a "*"), in some Allow statement of the policy that names it."""
    findings = []
    granted: dict[str, list[str]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for action in {a for pattern in _listed(statement["Action"]) for a in expand(str(pattern))}:
            granted.setdefault(action, []).extend(str(r) for r in _listed(statement.get("Resource", [])))
    parliament = _parliament()
    for action, resources in sorted(granted.items()):
        if "*" in resources:
            continue
        for entry in privilege(action)["resource_types"]:
            name = entry["resource_type"]
            if not name.endswith("*"):
                continue
            formats = [fmt for kind, fmt in resource_formats(action) if kind == name.rstrip("*")]
            if formats and not any(
                parliament.is_arn_strictly_valid(name.rstrip("*"), fmt, r) for fmt in formats for r in resources
            ):
                findings.append(
                    Finding(
                        policy.source,
                        "-",
                        "RESOURCE_MISMATCH",
                        f"{action} requires a {name.rstrip('*')} ARN ({formats[0]})",
                    )
                )
    return findings


def _sid_of(location: Any) -> str:
    try:
        return str(location["Sid"].value)
    except (KeyError, TypeError, AttributeError):
        return ""


def _detail(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(
            f"{d['action']} takes {d['required_format']}" if isinstance(d, dict) and "action" in d else str(d)
            for d in detail
        )
    return str(detail)


# --- sources ---------------------------------------------------------------------------------------


class _Resolver:
    """Enough of CloudFormation's intrinsics to turn a template's policies into plain JSON."""

    def __init__(self, cfn: dict[str, Any], parameters: dict[str, str]) -> None:
        self.cfn = cfn
        defaults = {n: str(s.get("Default", "")) for n, s in (cfn.get("Parameters") or {}).items()}
        self.params = {
            **defaults,
            **parameters,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK,
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.cfn["Conditions"][name]))
        return self.conditions[name]

    def exists(self, logical_id: str) -> bool:
        condition = self.cfn["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def ref(self, name: str) -> Any:
        if name in self.params:
            value = self.params[name]
            spec = (self.cfn.get("Parameters") or {}).get(name, {})
            return (
                value.split(",")
                if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList"
                else value
            )
        resource = self.cfn["Resources"][name]
        kind = resource["Type"]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.name_of(name)}"
        if kind == "AWS::StepFunctions::StateMachine":
            return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{self.name_of(name)}"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.name_of(name)}"
        if kind == "AWS::KMS::Key":
            return "0123abcd-0123-4567-89ab-0123456789ab"
        return self.name_of(name)

    def name_of(self, logical_id: str) -> str:
        """The resource's name: its name property, or the one CloudFormation generates (stack name first)."""
        props = self.cfn["Resources"][logical_id].get("Properties", {})
        for key in NAME_PROPERTIES:
            if key in props:
                return str(self.value(props[key]))
        return f"{STACK}-{logical_id}-0A1B2C3D4E5F"[:64]

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.cfn["Resources"][name]
        kind = resource["Type"]
        if attribute != "Arn":
            return f"{name}.{attribute}"
        ref = self.ref(name)
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{ref}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ref}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{ref}:*",
            "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{ref}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.name_of(name)}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{ref}",
            "AWS::StepFunctions::StateMachine": ref,
            "AWS::SNS::Topic": ref,
        }
        if kind not in arns:
            raise LintError(f"{name}.Arn: the lint does not know the ARN of a {kind}")
        return arns[kind]

    def value(self, node: Any) -> Any:  # noqa: PLR0911 - one return per intrinsic function
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (function, argument), *_ = node.items()
            if function == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else self.ref(argument)
            if function == "Fn::GetAtt":
                target, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(target, attribute)
            if function == "Fn::If":
                name, then, otherwise = argument
                return self.value(then if self.condition(name) else otherwise)
            if function in ("Condition", "Fn::Condition"):
                return self.condition(argument)
            if function == "Fn::Equals":
                left, right = (self.value(v) for v in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not self.value(argument[0])
            if function == "Fn::And":
                return all(self.value(v) for v in argument)
            if function == "Fn::Or":
                return any(self.value(v) for v in argument)
            if function == "Fn::Sub":
                return self.sub(argument)
            if function == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(v) for v in self.value(items))
            if function == "Fn::Split":
                separator, text = argument
                return str(self.value(text)).split(separator)
            if function == "Fn::Select":
                index, items = argument
                return self.value(items)[int(self.value(index))]
            if function == "Fn::FindInMap":
                name, first, second = (self.value(v) for v in argument)
                return self.cfn["Mappings"][name][first][second]
        return {key: v for key, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def sub(self, argument: Any) -> str:
        text, local = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
        values = {k: self.value(v) for k, v in local.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))


_NO_VALUE = object()
NAME_PROPERTIES = (
    "FunctionName",
    "TableName",
    "LogGroupName",
    "RoleName",
    "TopicName",
    "QueueName",
    "StateMachineName",
    "Name",
)

IDENTITY_TYPES = {"AWS::IAM::Policy": "PolicyDocument", "AWS::IAM::ManagedPolicy": "PolicyDocument"}
RESOURCE_POLICY_TYPES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
}


def template_policies(cfn: dict[str, Any], parameters: dict[str, str], label: str) -> Iterator[Policy]:
    """The identity and resource policies of a (transformed) template, intrinsics resolved."""
    resolver = _Resolver(cfn, parameters)
    for logical_id, resource in cfn["Resources"].items():
        if not resolver.exists(logical_id):
            continue
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for entry in props.get("Policies") or []:
                inline = resolver.value(entry)
                if inline is _NO_VALUE or not inline:
                    continue
                yield Policy(f"{label}:{logical_id}/{inline['PolicyName']}", inline["PolicyDocument"])
        elif kind in IDENTITY_TYPES:
            yield Policy(f"{label}:{logical_id}", resolver.value(props[IDENTITY_TYPES[kind]]))
        elif kind in RESOURCE_POLICY_TYPES and RESOURCE_POLICY_TYPES[kind] in props:
            yield Policy(f"{label}:{logical_id}", resolver.value(props[RESOURCE_POLICY_TYPES[kind]]), True)


def main_template_policies() -> Iterator[Policy]:
    from tests.template.stack import transformed

    for name, overrides in VARIANTS.items():
        from tests.template.stack import REQUIRED_PARAMETERS

        yield from template_policies(
            transformed(overrides), {**REQUIRED_PARAMETERS, **overrides}, f"template.yaml[{name}]"
        )


#: Parameters of the examples without a default, filled with valid examples.
EXAMPLE_PARAMETERS: dict[str, str] = {
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "GlobalReplicationGroupIdSuffix": "test-gds",
    "ReplicationGroupId": "test-rg",
}


def example_policies() -> Iterator[Policy]:
    from tools.cfn import load_template

    for path in sorted(EXAMPLES.glob("*/template.yaml")):
        template = load_template(path)
        label = str(path.relative_to(ROOT))
        for role in ("PRIMARY", "SECONDARY"):
            parameters = {**EXAMPLE_PARAMETERS, "Role": role}
            known = {k: v for k, v in parameters.items() if k in (template.get("Parameters") or {})}
            missing = [
                n for n, s in (template.get("Parameters") or {}).items() if "Default" not in s and n not in known
            ]
            for name in missing:
                known[name] = "example"
            yield from template_policies(
                copy.deepcopy(template), known, f"{label}[{role}]" if "Role" in known else label
            )
            if "Role" not in known:
                break


def deploy_policies(folder: Path = POLICY_DIR) -> Iterator[Policy]:
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise LintError(f"{path.relative_to(ROOT)}: not JSON: {error}") from None
        yield Policy(str(path.relative_to(ROOT)), document)


def all_policies() -> list[Policy]:
    return [*main_template_policies(), *example_policies(), *deploy_policies()]


def run(policies: list[Policy], allowlist: list[Entry]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[str] = set()
    for policy in policies:
        for finding in lint_policy(policy, allowlist):
            # the same statement in several variants is reported once
            line = f"{finding.source.split('[')[0]}:{finding.sid}:{finding.kind}:{finding.detail}"
            if line not in seen:
                seen.add(line)
                findings.append(finding)
    for entry in allowlist:
        if not entry.used:
            findings.append(
                Finding(
                    ALLOWLIST.name,
                    entry.action,
                    "UNUSED_ALLOWLIST_ENTRY",
                    f"[[{entry.kind}]] matches nothing: remove it",
                )
            )
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.iam_lint", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list the policies checked")
    args = parser.parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its "unpublished metrics" warning
    try:
        allowlist = load_allowlist()
        policies = all_policies()
        findings = run(policies, allowlist)
    except LintError as error:
        print(f"iam-lint: {error}", file=sys.stderr)
        return 2
    if args.verbose:
        for policy in policies:
            print(f"checked {policy.source}{' (resource policy)' if policy.resource_policy else ''}")
    for finding in findings:
        print(f"iam-lint: {finding}")
    statements = sum(len(_listed(p.document.get("Statement", []))) for p in policies)
    print(
        f"iam-lint: {len(policies)} policies, {statements} statements, {len(allowlist)} allowlist entries: "
        + (f"{len(findings)} findings" if findings else "clean")
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
